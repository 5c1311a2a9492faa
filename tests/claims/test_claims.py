"""Check every claim of tests/claims.yml against the glued values of the executed notebooks.

Besides the rule, each claim's ``fails_if`` must be rejected by the rule as judged with
this run's reference and standard error (the static test in ``tests/test_pipeline.py``
covers rules that need no glued value), and a disagreement's interval must exclude
the paper's value. A failure kept on record (``recorded_failure``) passes only while its
rule still rejects the measured value.
"""

import pytest

import claim_schema as claims_mod

CLAIMS = claims_mod.load_claims()


@pytest.mark.parametrize("claim", CLAIMS, ids=[c["id"] for c in CLAIMS])
def test_claim(claim, run):
    executed, mode = run
    if mode not in claim["runs"]:
        pytest.skip(f"claim is checked on the {'/'.join(claim['runs'])} run only")
    path = executed / f"{claim['notebook']}.ipynb"
    assert path.exists(), f"{claim['notebook']} was not executed into {executed}"
    ok, _, why = claims_mod.check_in_run(claim, claims_mod.read_glue(path), mode)
    assert ok, f"{claim['id']} ({claim['kind']}): {claim['claim']}\n  {why}"
