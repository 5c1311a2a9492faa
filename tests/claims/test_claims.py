"""Check every claim of tests/claims.yml against the glued values of the executed notebooks."""

import pytest

import claims as claims_mod

CLAIMS = claims_mod.load_claims()


@pytest.mark.parametrize("claim", CLAIMS, ids=[c["id"] for c in CLAIMS])
def test_claim(claim, run):
    executed, mode = run
    if mode not in claim["runs"]:
        pytest.skip(f"claim is checked on the {'/'.join(claim['runs'])} run only")
    path = executed / f"{claim['notebook']}.ipynb"
    assert path.exists(), f"{claim['notebook']} was not executed into {executed}"
    glued = claims_mod.read_glue(path)
    assert claim["key"] in glued, f"{claim['notebook']} glues no value named {claim['key']!r}"
    value = glued[claim["key"]]
    assert claims_mod.check_rule(claim["rule"], value), (
        f"{claim['id']}: {claim['claim']}\n  ours: {value!r}, required: "
        f"{claims_mod.describe_rule(claim['rule'])} (paper: {claim['paper']})"
    )
