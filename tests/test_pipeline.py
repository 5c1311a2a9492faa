"""Tests of the pipeline helpers: the claims file, glue reading, rules and content stamps."""

import json
import re
import subprocess

import nbformat
import pytest

import claim_schema as claims_mod
import execute


def test_claims_file_is_valid_and_covers_every_glued_number_in_the_prose():
    claims = claims_mod.load_claims()
    notebooks = {p.stem: p for p in (claims_mod.ROOT / "notebooks").glob("*.md")}
    # a value is claimed when a claim checks it: its key, or the reference, standard error or
    # interval a claim's rule compares with
    claimed = {
        (c["notebook"], k)
        for c in claims
        for k in [c["key"], c.get("reference_key"), c.get("se_key"), *c.get("interval_keys", [])]
        if k is not None
    }
    for c in claims:
        assert c["notebook"] in notebooks, f"claim {c['id']} names a notebook that does not exist"
    for stem, path in notebooks.items():
        text = path.read_text()
        keys = claims_mod.prose_glue_keys(text)
        assert keys, f"{stem} quotes no glued value"
        unclaimed = sorted(k for k in keys if (stem, k) not in claimed)
        assert not unclaimed, f"{stem} quotes glued values with no claim in tests/claims.yml: {unclaimed}"
        heads = claims_mod.anchors(text)
        for c in claims:
            if c["notebook"] != stem:
                continue
            for key in [c["key"], c.get("reference_key"), c.get("se_key"), *c.get("interval_keys", [])]:
                glues = key is None or re.search(rf'glue\(\s*"{re.escape(key)}"', text)
                assert glues, f"claim {c['id']}: {stem} never glues {key!r}"
            for field in ("section", "explained_in"):
                assert c.get(field, c["section"]) in heads, (
                    f"claim {c['id']}: {field} {c.get(field)!r} is no heading (levels 1-3) of {stem}"
                )


def test_every_claim_can_fail():
    """Each rule rejects the value its claim names as a plausible failure.

    Rules judged against a glued reference are checked again, with the run's values,
    by tests/claims; here a numeric reference is used where the claim has one.
    """
    claims = [c for c in claims_mod.load_claims() if c["kind"] not in claims_mod.UNCOUNTED]
    assert claims
    for c in claims:
        if claims_mod.uses_reference(c["rule"]) and ("reference_key" in c or "se_key" in c):
            continue  # judged with glued values: tests/claims checks fails_if on each run
        assert not claims_mod.check_rule(c["rule"], c["fails_if"], c.get("reference")), (
            f"{c['id']}: the rule {claims_mod.describe_rule(c['rule'])} accepts the failure value "
            f"{c['fails_if']!r} ({c['failure']})"
        )


def test_paper_values_are_the_papers():
    """A paper claim says where the paper prints it; no claim cites our internal notes."""
    internal = re.compile(
        r"[Dd]esign notes|PAPERS\.md|PAPERS digest|PAPERS calibration|[Cc]alibration run|[Rr]eference calibration"
    )
    for c in claims_mod.load_claims():
        assert not internal.search(json.dumps(c, ensure_ascii=False)), f"{c['id']} cites internal notes"
        if c["kind"] in ("paper", "disagreement"):
            assert str(c["where"]).strip(), c["id"]
    for path in [*(claims_mod.ROOT / "notebooks").glob("*.md"), *(claims_mod.ROOT / "book").glob("*.md")]:
        assert not internal.search(path.read_text()), f"{path.name} cites internal notes"


def test_every_notebook_has_a_parameters_cell_with_quick_and_seed():
    import jupytext

    for path in sorted((claims_mod.ROOT / "notebooks").glob("*.md")):
        nb = jupytext.read(path)
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert "parameters" in first.metadata.get("tags", []), path.name
        assert "quick = False" in first.source and "seed = " in first.source, path.name


EXERCISE = re.compile(r"^:{3,}\{exercise\}[^\n]*\n:label: (\S+)", re.M)
# a solution, or the start of a gated one (sphinx-exercise's solution-start ... solution-end,
# which folds the code cells between them into the solution)
SOLUTION = re.compile(r"^:{3,}\{solution(?:-start)?\} (\S+)\n((?::\w+:[^\n]*\n)*)", re.M)


def exercises_and_solutions(text):
    """The labels of a chapter's exercises, and for each solution its exercise and options."""
    return EXERCISE.findall(text), {label: opts for label, opts in SOLUTION.findall(text)}


def test_exercises_and_solutions_are_parsed():
    text = ":::{exercise} a title\n:label: ch9-ex1\nQ\n:::\n\n:::{solution} ch9-ex1\n:class: dropdown\nA\n:::\n"
    assert exercises_and_solutions(text) == (["ch9-ex1"], {"ch9-ex1": ":class: dropdown\n"})
    assert exercises_and_solutions(":::{admonition} Exercise 1 (a title)\nQ\n:::\n") == ([], {})
    gated = text.replace("{solution}", "{solution-start}").replace("A\n:::\n", "A\n:::\n\n:::{solution-end}\n:::\n")
    assert exercises_and_solutions(gated) == (["ch9-ex1"], {"ch9-ex1": ":class: dropdown\n"})
    gated = ":::{exercise} t\n:label: ch9-ex2\nQ\n:::\n\n:::{solution-start} ch9-ex2\n:class: dropdown\n:::\nA\n"
    parsed = exercises_and_solutions(gated + ":::{solution-end}\n:::\n")
    assert parsed == (["ch9-ex2"], {"ch9-ex2": ":class: dropdown\n"})


def test_every_chapter_has_three_exercises_with_folded_solutions():
    """Issue 16: at least three numbered exercises per chapter, each with its own solution, folded."""
    for path in sorted((claims_mod.ROOT / "notebooks").glob("*.md")):
        exercises, solutions = exercises_and_solutions(path.read_text())
        chapter = f"ch{int(path.name[:2])}-ex"
        assert len(exercises) >= 3, f"{path.name}: {len(exercises)} exercises"
        assert all(label.startswith(chapter) for label in exercises), (path.name, exercises)
        assert sorted(solutions) == sorted(exercises), f"{path.name}: solutions {sorted(solutions)}"
        folded = [label for label, opts in solutions.items() if ":class: dropdown" in opts]
        assert sorted(folded) == sorted(exercises), f"{path.name}: unfolded solutions"
        text = path.read_text()
        starts, ends = (len(re.findall(rf"^:{{3,}}\{{solution-{w}\}}", text, re.M)) for w in ("start", "end"))
        assert starts == ends, f"{path.name}: {starts} solution-start against {ends} solution-end"


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
        ({"equals": True}, True, 1),
    ],
)
def test_rules(rule, good, bad):
    assert claims_mod.check_rule(rule, good)
    assert not claims_mod.check_rule(rule, bad)


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        ({"within_se": 3}, 1.29, 1.31),
        ({"outside_se": 2}, 1.21, 1.19),
        ({"above_se": 2}, 1.21, 0.5),
        ({"below_se": 2}, 0.79, 1.5),
        ({"not_above_se": 3}, 0.2, 1.31),  # a loss passes the one-sided null, a gain fails it
        ({"at_least_ref": 0.0}, 1.0, 0.99),
        ({"at_most_ref": 0.05}, 1.04, 1.06),
    ],
)
def test_reference_rules(rule, good, bad):
    assert claims_mod.check_rule(rule, good, reference=1.0, se=0.1)
    assert not claims_mod.check_rule(rule, bad, reference=1.0, se=0.1)
    assert not claims_mod.check_rule(rule, good, reference=None, se=0.1)
    if set(rule) & {"within_se", "outside_se", "above_se", "below_se", "not_above_se"}:
        assert not claims_mod.check_rule(rule, good, reference=1.0, se=0.0)


def test_rules_reject_non_numbers_and_unknown_rules():
    assert not claims_mod.check_rule({"max": 1.0}, float("nan"))
    assert not claims_mod.check_rule({"max": 1.0}, None)
    assert not claims_mod.check_rule({"max": 1.0}, "0.5")
    assert not claims_mod.check_rule({"max": 1.0}, True)
    with pytest.raises(ValueError, match="unknown rule"):
        claims_mod.check_rule({"approx": 1.0}, 1.0)


def _entry(**over):
    entry = dict(id="a", notebook="n", section="S", key="k", kind="identity", claim="c", source="s",
                 reference="0", rule={"max": 1}, fails_if=2, failure="f", runs=["quick"])
    return {**entry, **over}


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        ([_entry(), _entry()], "appears twice"),
        ([{k: v for k, v in _entry().items() if k != "rule"}], "lacks"),
        ([{k: v for k, v in _entry().items() if k != "section"}], "lacks"),
        ([_entry(runs=["slow"])], "runs"),
        ([_entry(kind="result")], "kind"),
        ([_entry(kind="paper")], "lacks"),
        ([_entry(kind="theory")], "reference_key"),
        ([_entry(paper="0.99")], "unknown fields"),
        ([_entry(rule={"within_se": 2}, reference=1.0)], "se_key"),
        ([_entry(rule={"within_se": 2}, reference="words", se_key="se")], "numeric reference"),
        ([_entry(kind="disagreement", where="T1", reference="0.76", interval_keys=["l", "h"],
                 explained_in="S")], "paper's number"),
        ([_entry(failure=" ")], "failure"),
        ([_entry(rule={"equals": "not certified"}, fails_if=True)], "equals takes"),
        ([_entry(rule={"equals": True}, fails_if=0)], "type"),
        ([_entry(kind="theory", reference_key="r", rule={"max": 1.0})], "reference rule"),
        ([_entry(recorded_failure={"runs": ["full"], "reason": "r"})], "subset of runs"),
        ([_entry(runs=["full"], recorded_failure={"runs": ["full"], "reason": " "})], "reason in words"),
        ([_entry(runs=["full"], recorded_failure={"runs": ["full"]})], "exactly runs and reason"),
        ([_entry(kind="setting", recorded_failure={"runs": ["quick"], "reason": "r"})], "cannot record"),
    ],
)
def test_load_claims_rejects_malformed_files(tmp_path, entries, match):
    f = tmp_path / "claims.yml"
    f.write_text(json.dumps(entries))
    with pytest.raises(ValueError, match=match):
        claims_mod.load_claims(f)


def test_check_claim_judges_fails_if_and_disagreement_intervals():
    glued = {"k": 0.1, "lo": -0.2, "hi": 0.3}
    assert claims_mod.check_claim(_entry(), glued)[0]
    assert not claims_mod.check_claim(_entry(fails_if=0.5), glued)[0]
    assert not claims_mod.check_claim(_entry(), {})[0]
    dis = _entry(kind="disagreement", where="Table 1", reference=0.76, interval_keys=["lo", "hi"],
                 explained_in="S", rule={"max": 0.5}, fails_if=0.76)
    assert claims_mod.check_claim(dis, glued)[0]
    assert not claims_mod.check_claim(dis, {**glued, "hi": 0.8})[0]
    assert not claims_mod.check_claim(dis, {**glued, "lo": 0.2})[0]
    # judged against a glued boundary: the interval must exclude the boundary, not the typed reference
    bound = _entry(kind="disagreement", where="Table 1", reference=0.0, reference_key="q", interval_keys=["lo", "hi"],
                   explained_in="S", rule={"at_least_ref": 0.0}, fails_if=5.0)
    chi2 = {"k": 20.0, "lo": 16.0, "hi": 30.0, "q": 15.1}
    assert claims_mod.check_claim(bound, chi2)[0]
    ok, _, why = claims_mod.check_claim(bound, {**chi2, "lo": 12.0})
    assert not ok and "contains the reference 15.1" in why
    setting = {k: v for k, v in _entry(kind="setting").items() if k in claims_mod.COMMON}
    assert claims_mod.check_claim(setting, glued)[0]
    assert not claims_mod.check_claim(setting, {})[0]
    reported = {k: v for k, v in _entry(kind="reported").items() if k in claims_mod.COMMON}
    assert claims_mod.check_claim(reported, glued)[0]
    assert not claims_mod.check_claim(reported, {})[0]


def test_headings_skip_code_fences_and_anchor_like_myst():
    text = "# Title\n```{code-cell} ipython3\n# a comment\n```\n## Stein's identity, tested\n#### Deep\n## Title\n"
    assert claims_mod.headings(text) == [(1, "Title"), (2, "Stein's identity, tested"), (4, "Deep"), (2, "Title")]
    assert claims_mod.anchors(text) == {"Title": "title", "Stein's identity, tested": "steins-identity-tested"}
    assert claims_mod.slug("Bands of $E_k$ and `descend`, at Λ = 25") == "bands-of--and-descend-at-λ--25"


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


def _package(tmp_path, modules):
    for rel, text in {
        "requirements.lock": "lock",
        "tools/execute.py": "script",
        "src/tensordl/__init__.py": "from . import " + ", ".join(modules),
        **{f"src/tensordl/{m}.py": text for m, text in modules.items()},
    }.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)


def _notebook(tmp_path, code):
    md = tmp_path / "notebooks" / "a.md"
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text("```{code-cell} ipython3\n" + code + "\n```\n")
    return md


def test_stamp_changes_with_notebook_imported_modules_lock_and_mode(tmp_path):
    _package(tmp_path, {"m": "from .dep import f  # used by m", "dep": "f = 1", "other": ""})
    md = _notebook(tmp_path, "from tensordl import m as mm")
    first = execute.stamp(md, "quick", root=tmp_path)
    assert first == execute.stamp(md, "quick", root=tmp_path)
    assert first != execute.stamp(md, "full", root=tmp_path)
    seen = {first}
    for rel in ("notebooks/a.md", "requirements.lock", "src/tensordl/m.py", "src/tensordl/dep.py"):
        (tmp_path / rel).write_text((tmp_path / rel).read_text() + "\n# changed")
        seen.add(execute.stamp(md, "quick", root=tmp_path))
    assert len(seen) == 5
    # a module the notebook does not import, directly or through m, leaves it alone
    (tmp_path / "src" / "tensordl" / "other.py").write_text("changed = True")
    (tmp_path / "src" / "tensordl" / "new.py").write_text("")
    assert execute.stamp(md, "quick", root=tmp_path) in seen


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("from tensordl import a, b as bb  # comment", {"a", "b"}),
        ("from tensordl import (\n    a,\n)", {"a"}),
        ("from tensordl.b import f", {"b"}),
        ("import tensordl.a as aa", {"a"}),
        ("import tensordl as td", {"a", "b", "c"}),
        ("import numpy as np", set()),
    ],
)
def test_imported_modules(tmp_path, code, expected):
    _package(tmp_path, {"a": "", "b": "", "c": ""})
    assert execute._imported_modules(code, tmp_path / "src" / "tensordl") == expected


def test_up_to_date_needs_output_success_and_same_stamp(tmp_path):
    (tmp_path / "nb.ipynb").write_text("{}")
    ok = {"nb": {"status": "ok", "stamp": "abc"}}
    assert execute.up_to_date("nb", tmp_path, "abc", ok)
    assert not execute.up_to_date("nb", tmp_path, "abd", ok)
    assert not execute.up_to_date("nb", tmp_path, "abc", {"nb": {"status": "failed", "stamp": "abc"}})
    assert not execute.up_to_date("other", tmp_path, "abc", ok)


def test_a_run_over_budget_is_never_up_to_date(tmp_path):
    (tmp_path / "nb.ipynb").write_text("{}")
    fits = {"nb": {"status": "ok", "stamp": "abc", "mode": "full", "seconds": 599.9}}
    over = {"nb": {"status": "ok", "stamp": "abc", "mode": "full", "seconds": 600.1}}
    assert execute.up_to_date("nb", tmp_path, "abc", fits)
    assert not execute.up_to_date("nb", tmp_path, "abc", over)
    assert not execute.over_budget({"mode": "quick", "seconds": 60.0})
    assert execute.over_budget({"mode": "quick", "seconds": 60.5})


def test_longest_first_puts_unknown_then_slowest_first(tmp_path):
    todo = [(tmp_path / f"{n}.md", n) for n in ("a", "b", "c", "d")]
    status = {"a": {"seconds": 5.0}, "b": {"seconds": 50.0}, "d": {"seconds": 20.0}}
    assert [md.stem for md, _ in execute.longest_first(todo, status)] == ["c", "b", "d", "a"]


_NB_HEAD = (
    "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
    "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n"
    "```{code-cell} ipython3\n:tags: [parameters]\nquick = False\n```\n\n"
)


def _run_main(tmp_path, monkeypatch, names, *flags):
    monkeypatch.setattr(execute, "NOTEBOOKS", tmp_path)
    monkeypatch.setattr(execute, "stamp", lambda md, mode, root=None: "s")
    return execute.main(["--mode", "quick", "--out", str(tmp_path / "out"), *flags, *names])


def test_side_by_side_kernels_get_one_thread_each(tmp_path, monkeypatch):
    check = (
        "```{code-cell} ipython3\nimport os\nimport numba\nimport torch\n"
        "assert os.environ['OPENBLAS_NUM_THREADS'] == os.environ['OMP_NUM_THREADS'] == '1'\n"
        "assert numba.get_num_threads() == 1 and torch.get_num_threads() == 1\n```\n"
    )
    for name in ("a1", "a2"):
        (tmp_path / f"{name}.md").write_text(_NB_HEAD + check)
    assert _run_main(tmp_path, monkeypatch, ["a1", "a2"], "--jobs", "2") == 0
    status = json.loads((tmp_path / "out" / "status.json").read_text())
    assert {status[n]["status"] for n in ("a1", "a2")} == {"ok"}
    assert {status[n]["jobs"] for n in ("a1", "a2")} == {2}


def test_a_notebook_asking_for_threads_gets_them_and_runs_before_the_others(tmp_path, monkeypatch):
    check = (
        "```{code-cell} ipython3\nimport os\nfrom tensordl.parallel import default_workers\n"
        "assert os.environ['OMP_NUM_THREADS'] == '{n}'\nassert default_workers() == {n}\n```\n"
    )
    head = _NB_HEAD.replace("---\n\n", "tensordl:\n  threads: 2\n---\n\n", 1)
    (tmp_path / "b_alone.md").write_text(head + check.replace("{n}", "2"))
    for name in ("a1", "a2"):
        (tmp_path / f"{name}.md").write_text(_NB_HEAD + check.replace("{n}", "1"))
    assert execute.threads_of(tmp_path / "b_alone.md") == 2 and execute.threads_of(tmp_path / "a1.md") == 1
    assert _run_main(tmp_path, monkeypatch, ["a1", "a2", "b_alone"], "--jobs", "2") == 0
    status = json.loads((tmp_path / "out" / "status.json").read_text())
    assert status["b_alone"]["threads"] == 2 and status["b_alone"]["jobs"] == 1
    assert status["a1"]["threads"] == 1 and status["a1"]["jobs"] == 2
    assert status["b_alone"]["finished"] <= min(status[n]["finished"] for n in ("a1", "a2"))
    per_mode = tmp_path / "per_mode.md"
    per_mode.write_text(head.replace("threads: 2", "threads:\n    quick: 2"))
    assert execute.threads_of(per_mode, "quick") == 2 and execute.threads_of(per_mode, "full") == 1
    (tmp_path / "bad.md").write_text(head.replace("threads: 2", "threads: 0"))
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        execute.threads_of(tmp_path / "bad.md")


def test_nbval_reruns_a_notebook_with_the_threads_it_was_executed_with(tmp_path, monkeypatch):
    import run_nbval

    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    head = _NB_HEAD.replace("---\n\n", "tensordl:\n  threads: 2\n---\n\n", 1)
    md = nb_dir / "two.md"
    cell = "```{code-cell} ipython3\n# NBVAL_CHECK_OUTPUT\nimport os\nprint(os.environ['OMP_NUM_THREADS'])\n```\n"
    md.write_text(head + cell)
    monkeypatch.setattr(execute, "NOTEBOOKS", nb_dir)
    monkeypatch.setattr(run_nbval, "ROOT", tmp_path)
    assert execute.run_one(md, tmp_path, "quick")["status"] == "ok"
    name, code, out = run_nbval.nbval_one(tmp_path / "two.ipynb")
    assert (name, code) == ("two", 0), out
    # the same check with one thread differs: nbval would have failed without the front matter's threads
    monkeypatch.setattr(execute, "threads_of", lambda path, mode=None: 1)
    assert run_nbval.nbval_one(tmp_path / "two.ipynb")[1] != 0


def test_a_notebook_over_budget_fails_the_run_with_its_time(tmp_path, monkeypatch, capsys):
    (tmp_path / "slow.md").write_text(_NB_HEAD + "```{code-cell} ipython3\nx = 1\n```\n")
    monkeypatch.setitem(execute.BUDGET_S, "quick", 0.01)  # any run is over this budget
    assert _run_main(tmp_path, monkeypatch, ["slow"], "--jobs", "1") == 1
    err = capsys.readouterr().err
    seconds = json.loads((tmp_path / "out" / "status.json").read_text())["slow"]["seconds"]
    assert f"FAILED: over the quick budget of 0.01 s per notebook: slow ({seconds} s)" in err
    # it is not up to date, so it runs again; --warn-budget lets a busy machine go on
    assert _run_main(tmp_path, monkeypatch, ["slow"], "--jobs", "1", "--warn-budget") == 0
    assert "WARNING: over the quick budget" in capsys.readouterr().err


def test_status_table_flags_runs_over_budget_and_names_the_concurrency(tmp_path):
    import stage_book

    quick, full = tmp_path / "quick", tmp_path / "full"
    quick.mkdir()
    full.mkdir()
    stem = sorted((execute.ROOT / "notebooks").glob("*.md"))[0].stem
    entry = {"status": "ok", "machine": "m", "jobs": 2, "stamp": "0123456789abcdef", "finished": "t",
             "notebook": stem}
    (quick / "status.json").write_text(json.dumps({stem: {**entry, "mode": "quick", "seconds": 61.0}}))
    (full / "status.json").write_text(json.dumps({stem: {**entry, "mode": "full", "seconds": 30.0}}))
    table = stage_book.status_table("quick", quick, other=full)
    assert "notebooks run 2 at a time, one thread each; a notebook over its budget fails" in table
    row = next(line for line in table.splitlines() if stem in line)
    assert "| ok | 61.0 (over the 60 s budget) | ok | 30.0 |" in row and "`0123456789ab`" in row
    assert table.count("not run in this build") == 2 * (len(list((execute.ROOT / "notebooks").glob("*.md"))) - 1)


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


def _glued_notebook(path, values):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("glue(...)")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={claims_mod.GLUE_PREFIX + "text/plain": repr(v)},
            metadata={"scrapbook": {"name": k, "mime_prefix": claims_mod.GLUE_PREFIX}},
        )
        for k, v in values.items()
    ]
    nb.cells.append(cell)
    nbformat.write(nb, path)


def test_report_counts_by_kind_lists_disagreements_and_never_counts_settings(tmp_path):
    import stage_book

    stem = "01_networks_as_polynomials"
    section = next(t for lvl, t in claims_mod.headings((claims_mod.ROOT / "notebooks" / f"{stem}.md").read_text())
                   if lvl == 2)
    _glued_notebook(tmp_path / f"{stem}.ipynb", {"e": 1e-16, "p": 0.5, "n": 12, "r": 0.1, "lo": -0.2, "hi": 0.4})
    base = dict(notebook=stem, section=section, source="s", reference="0", runs=["full"], failure="f")
    claims = [
        {**base, "id": "x-id", "key": "e", "kind": "identity", "claim": "an identity", "rule": {"max": 1e-12},
         "fails_if": 1.0},
        {**base, "id": "x-pl", "key": "p", "kind": "planted", "claim": "a recovery", "rule": {"min": 0.9},
         "fails_if": 0.1},
        {"id": "x-set", "notebook": stem, "section": section, "key": "n", "kind": "setting",
         "claim": "a size", "runs": ["full"]},
        {"id": "x-rep", "notebook": stem, "section": section, "key": "r", "kind": "reported",
         "claim": "a measured spread", "runs": ["full"]},
        {**base, "id": "x-dis", "key": "r", "kind": "disagreement", "claim": "a correlation", "where": "Table 1",
         "reference": 0.76, "interval_keys": ["lo", "hi"], "explained_in": section, "rule": {"max": 0.5},
         "fails_if": 0.76},
    ]
    table = stage_book.claims_table("full", tmp_path, claims)
    assert ("3 claims checked, **1 failed**; 1 settings quoted by the prose and 1 measurements reported "
            "without a claim") in table
    row = next(line for line in table.splitlines() if line.startswith("| [1."))
    assert row.endswith("| 0 | 0 | 0 | 1 | 0 | 1 | **1** |"), row
    assert "**a correlation** (chapter 1). The paper: 0.76 (Table 1); ours: 0.1 [-0.2, 0.4]" in table
    assert f"(../notebooks/{stem}.ipynb#{claims_mod.slug(section)})" in table
    assert "**FAIL**: ours 0.5 does not satisfy ≥ 0.9" in table
    assert "| exact |" in table and "disagrees (explained)" in table
    assert "a size = 12" in table
    assert "(nothing was predicted for them, so they are not counted): a measured spread = 0.1" in table


def test_every_declared_dependency_is_pinned_in_the_lock_file():
    import tomllib

    root = execute.ROOT
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in ("notebooks", "book", "test"):
        declared += project["optional-dependencies"][extra]

    def norm(name):
        return re.sub(r"[-_.]+", "-", name).lower()

    pinned = {
        norm(line.split("==")[0])
        for line in (root / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    names = {norm(re.split(r"[<>=!\[ ;]", d, maxsplit=1)[0]) for d in declared}
    names.discard("tensordl")
    assert names and names <= pinned, sorted(names - pinned)


def _module_users():
    """For each public module of the package, the notebooks that import it by name."""
    package = claims_mod.ROOT / "src" / "tensordl"
    modules = sorted(p.stem for p in package.glob("*.py") if not p.stem.startswith("_"))
    users = {m: set() for m in modules}
    for nb in sorted((claims_mod.ROOT / "notebooks").glob("*.md")):
        for m in execute._imported_modules(nb.read_text(), package) & set(modules):
            users[m].add(nb.name)
    return package, users


def test_module_docstrings_name_exactly_the_notebooks_that_import_them():
    """Issue 18: each module's docstring says which chapters use it, and stays true."""
    import ast

    package, users = _module_users()
    for module, notebooks in users.items():
        doc = ast.get_docstring(ast.parse((package / f"{module}.py").read_text())) or ""
        named = set(re.findall(r"notebooks/(\d\d_\w+\.md)", doc))
        assert named == notebooks, f"{module}: docstring names {sorted(named)}, imported by {sorted(notebooks)}"


def test_every_module_has_its_test_file():
    package, users = _module_users()
    missing = [m for m in users if not (claims_mod.ROOT / "tests" / f"test_{m}.py").exists()]
    assert not missing, f"modules without tests/test_<module>.py: {missing}"


def test_every_module_is_on_the_api_page():
    """A module missing from book/api.md breaks the -W build at the first cross-reference to it."""
    package, users = _module_users()
    api = (claims_mod.ROOT / "book" / "api.md").read_text()
    missing = [m for m in users if f".. automodule:: tensordl.{m}\n" not in api]
    assert not missing, f"modules not on book/api.md: {missing}"


def test_moved_hierarchical_names_still_resolve_with_a_deprecation_warning():
    from tensordl import decomposition, hierarchical

    with pytest.warns(DeprecationWarning, match="moved to tensordl.hierarchical.ht_tensor"):
        assert decomposition.ht_tensor is hierarchical.ht_tensor
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        decomposition.nothing  # noqa: B018


def test_a_failure_on_record_passes_only_while_the_rule_still_rejects_the_value(tmp_path):
    """A claim that failed its rule is kept on record, not loosened; if it starts to pass, the check says so."""
    import stage_book

    claim = _entry(rule={"max": 1.0}, fails_if=5.0, runs=["quick", "full"],
                   recorded_failure={"runs": ["full"], "reason": "too few seeds to decide"})
    assert claims_mod.check_in_run(claim, {"k": 2.0}, "full")[0]  # fails its rule, as recorded
    assert not claims_mod.check_in_run(claim, {"k": 2.0}, "quick")[0]  # no record for the quick run
    ok, _, why = claims_mod.check_in_run(claim, {"k": 0.5}, "full")
    assert not ok and "no longer fails its rule" in why
    assert not claims_mod.check_in_run(claim, {}, "full")[0]  # a missing value is not a recorded failure
    stem = "01_networks_as_polynomials"
    section = next(t for lvl, t in claims_mod.headings((claims_mod.ROOT / "notebooks" / f"{stem}.md").read_text())
                   if lvl == 2)
    _glued_notebook(tmp_path / f"{stem}.ipynb", {"k": 2.0})
    claim.update(notebook=stem, section=section)
    row = claims_mod.results("full", tmp_path, [claim])[0]
    assert not row["ok"] and row["on_record"] and row["verdict"] == "failed (on record)"
    table = stage_book.claims_table("full", tmp_path, [claim])
    assert "1 claims checked, **1 failed**" in table
    assert "**failed** (kept on record, rule unchanged): on record: too few seeds to decide" in table


def test_performance_tables_show_a_series_own_theoretical_exponent(tmp_path, monkeypatch):
    import stage_book

    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "book" / "_static").mkdir(parents=True)
    (tmp_path / "book" / "_static" / "bench_x_scaling.png").write_bytes(b"")
    series = [
        {"method": "partial SVD", "sizes": [1, 2], "median_s": [1.0, 4.0], "exponent": 2.01},
        {"method": "full SVD", "sizes": [1, 2], "median_s": [1.0, 8.0], "exponent": 2.97, "theory": 3},
    ]
    res = {
        "title": "X (chapter 2)", "script": "benchmarks/bench_x.py", "date": "2025-01-01", "repeats": 3,
        "machine": {"cpu": "cpu", "cores": 2, "threads": 2, "python": "3.11", "numpy": "2", "numba": "0.6"},
        "cases": [{"case": "c", "rows": [{"method": "partial SVD", "median_s": 0.5}]}],
        "targets": [{"what": "t", "ratio": 2.0, "min": None}],
        "scaling": [{"what": "n from 1 to 2", "size": "n", "theory": 2, "series": series,
                     "plot": "_static/bench_x_scaling.png"}],
    }
    (tmp_path / "benchmarks" / "results" / "x.json").write_text(json.dumps(res))
    monkeypatch.setattr(stage_book, "ROOT", tmp_path)
    page = stage_book.performance_tables()
    assert "| partial SVD | 2.01 | 2 |" in page  # the section's theory
    assert "| full SVD | 2.97 | 3 |" in page  # the series' own
    assert "theory partial SVD: 2; full SVD: 3." in page
    series[1].pop("theory")
    (tmp_path / "benchmarks" / "results" / "x.json").write_text(json.dumps(res))
    page = stage_book.performance_tables()
    assert "| full SVD | 2.97 | 2 |" in page and "; theory 2." in page


def test_nbval_runs_a_notebook_again_only_when_its_kernel_did_not_start(tmp_path, monkeypatch):
    import run_nbval

    ci_tail = ("ERROR x.ipynb::Cell 33 - RuntimeError: Kernel didn't respond in 60 seconds\n"
               "34 errors in 66.98s (0:01:06)\n")
    assert run_nbval.kernel_did_not_start(1, ci_tail)
    assert not run_nbval.kernel_did_not_start(0, ci_tail)
    # a kernel that died after cells ran is a failure of the notebook, not of its start
    assert not run_nbval.kernel_did_not_start(1, "Kernel died before replying\n3 failed, 5 passed in 9s\n")
    assert not run_nbval.kernel_did_not_start(1, "FAILED x.ipynb::Cell 2\n1 failed, 33 passed in 20s\n")

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "nb.md").write_text(_NB_HEAD)
    monkeypatch.setattr(run_nbval, "ROOT", tmp_path)
    replies = iter([(1, ci_tail), (0, "34 passed in 20s\n")])
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        code, out = next(replies)
        return subprocess.CompletedProcess(cmd, code, stdout=out, stderr="")

    monkeypatch.setattr(run_nbval.subprocess, "run", fake_run)
    name, code, out = run_nbval.nbval_one(tmp_path / "nb.ipynb")
    assert (name, code, len(calls)) == ("nb", 0, 2)
    assert "--nbval-kernel-startup-timeout=180" in calls[0]
    assert "the kernel did not start; run once more" in out and "34 passed" in out
    # a real failure is not run again
    replies = iter([(1, "FAILED nb.ipynb::Cell 2\n1 failed, 33 passed in 20s\n")])
    calls.clear()
    assert run_nbval.nbval_one(tmp_path / "nb.ipynb")[1] == 1 and len(calls) == 1
