"""Tests of the pipeline helpers: the claims file, glue reading, rules and content stamps."""

import json

import nbformat
import pytest

import claims as claims_mod
import execute


def test_claims_file_is_valid_and_covers_every_glued_number_in_the_prose():
    claims = claims_mod.load_claims()
    notebooks = {p.stem: p for p in (claims_mod.ROOT / "notebooks").glob("*.md")}
    claimed = {(c["notebook"], c["key"]) for c in claims}
    for c in claims:
        assert c["notebook"] in notebooks, f"claim {c['id']} names a notebook that does not exist"
    for stem, path in notebooks.items():
        text = path.read_text()
        keys = claims_mod.prose_glue_keys(text)
        assert keys, f"{stem} quotes no glued value"
        unclaimed = sorted(k for k in keys if (stem, k) not in claimed)
        assert not unclaimed, f"{stem} quotes glued values with no claim in tests/claims.yml: {unclaimed}"
        for c in claims:
            if c["notebook"] == stem:
                assert f'glue("{c["key"]}"' in text, f"claim {c['id']}: {stem} never glues {c['key']!r}"


def test_every_notebook_has_a_parameters_cell_with_quick_and_seed():
    import jupytext

    for path in sorted((claims_mod.ROOT / "notebooks").glob("*.md")):
        nb = jupytext.read(path)
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert "parameters" in first.metadata.get("tags", []), path.name
        assert "quick = False" in first.source and "seed = " in first.source, path.name


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        ({"max": 1e-12}, 3e-13, 2e-12),
        ({"min": 10}, 10.0, 9.99),
        ({"min": 1, "max": 2}, 1.5, 2.5),
        ({"value": 1.657, "abs": 0.01}, 1.66, 1.67),
        ({"value": 0.0625, "rel": 0.1}, 0.06, 0.05),
        ({"equals": 0}, 0, 1),
        ({"equals": True}, True, False),
    ],
)
def test_rules(rule, good, bad):
    assert claims_mod.check_rule(rule, good)
    assert not claims_mod.check_rule(rule, bad)


def test_rules_reject_non_numbers_and_unknown_rules():
    assert not claims_mod.check_rule({"max": 1.0}, float("nan"))
    assert not claims_mod.check_rule({"max": 1.0}, None)
    assert not claims_mod.check_rule({"max": 1.0}, "0.5")
    with pytest.raises(ValueError, match="unknown rule"):
        claims_mod.check_rule({"approx": 1.0}, 1.0)


def test_load_claims_rejects_malformed_files(tmp_path):
    entry = dict(id="a", notebook="n", key="k", claim="c", source="s", paper="p", rule={"max": 1}, runs=["quick"])
    f = tmp_path / "claims.yml"
    f.write_text(json.dumps([entry, entry]))
    with pytest.raises(ValueError, match="appears twice"):
        claims_mod.load_claims(f)
    f.write_text(json.dumps([{k: v for k, v in entry.items() if k != "rule"}]))
    with pytest.raises(ValueError, match="lacks"):
        claims_mod.load_claims(f)
    f.write_text(json.dumps([{**entry, "runs": ["slow"]}]))
    with pytest.raises(ValueError, match="runs"):
        claims_mod.load_claims(f)


def test_read_glue_parses_papermill_records(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("glue(...)")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"application/papermill.record/text/plain": "0.125"},
            metadata={"scrapbook": {"name": "frac", "mime_prefix": "application/papermill.record/"}},
        ),
        nbformat.v4.new_output(
            "display_data",
            data={"application/papermill.record/text/plain": "True"},
            metadata={"scrapbook": {"name": "ok", "mime_prefix": "application/papermill.record/"}},
        ),
        nbformat.v4.new_output("stream", name="stdout", text="not glued\n"),
    ]
    nb.cells.append(cell)
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    assert claims_mod.read_glue(path) == {"frac": 0.125, "ok": True}


def test_prose_glue_keys():
    text = "a {glue:text}`alpha:.2f` b {glue}`beta` c {glue:md}`gamma` and `glue(\"delta\")`"
    assert claims_mod.prose_glue_keys(text) == {"alpha", "beta", "gamma"}


def test_stamp_changes_with_notebook_package_lock_and_mode(tmp_path):
    for rel in ("notebooks/a.md", "requirements.lock", "tools/execute.py", "src/tensordl/m.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    md = tmp_path / "notebooks" / "a.md"
    first = execute.stamp(md, "quick", root=tmp_path)
    assert first == execute.stamp(md, "quick", root=tmp_path)
    assert first != execute.stamp(md, "full", root=tmp_path)
    seen = {first}
    for rel in ("notebooks/a.md", "requirements.lock", "src/tensordl/m.py"):
        (tmp_path / rel).write_text(rel + " changed")
        seen.add(execute.stamp(md, "quick", root=tmp_path))
    (tmp_path / "src" / "tensordl" / "new.py").write_text("")
    seen.add(execute.stamp(md, "quick", root=tmp_path))
    assert len(seen) == 5


def test_up_to_date_needs_output_success_and_same_stamp(tmp_path):
    (tmp_path / "nb.ipynb").write_text("{}")
    ok = {"nb": {"status": "ok", "stamp": "abc"}}
    assert execute.up_to_date("nb", tmp_path, "abc", ok)
    assert not execute.up_to_date("nb", tmp_path, "abd", ok)
    assert not execute.up_to_date("nb", tmp_path, "abc", {"nb": {"status": "failed", "stamp": "abc"}})
    assert not execute.up_to_date("other", tmp_path, "abc", ok)


def test_a_failing_notebook_is_named_with_its_cell(tmp_path, monkeypatch, capsys):
    md = tmp_path / "99_broken.md"
    md.write_text(
        "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
        "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n"
        "```{code-cell} ipython3\n:tags: [parameters]\nquick = False\n```\n\n"
        "```{code-cell} ipython3\nx = 1\n```\n\n"
        "```{code-cell} ipython3\nraise RuntimeError('planted failure')\n```\n"
    )
    monkeypatch.setattr(execute, "NOTEBOOKS", tmp_path)
    entry = execute.run_one(md, tmp_path, "quick")
    err = capsys.readouterr().err
    assert entry["status"] == "failed" and "planted failure" in entry["error"]
    assert "99_broken.md" in err and "raise RuntimeError" in err
    assert (tmp_path / "99_broken.ipynb").exists()  # the partial output is kept for inspection
