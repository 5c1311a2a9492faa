"""tools/stage_book.present: the page hides the plumbing and keeps every glued value."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import pytest
import stage_book  # noqa: E402

RECORD = {"output_type": "display_data", "data": {"application/papermill.record/text/plain": "1"},
          "metadata": {"scrapbook": {"name": "x", "mime_prefix": "application/papermill.record/"}}}
PRINTED = {"output_type": "stream", "name": "stdout", "text": "x is 1\n"}


def notebook(*cells):
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def code(source, outputs=(), **metadata):
    return {"cell_type": "code", "source": source, "metadata": metadata, "outputs": list(outputs),
            "execution_count": 1}


def run_present(tmp_path, nb):
    src, dst = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    src.write_text(json.dumps(nb))
    stage_book.present(src, dst)
    out = json.loads(dst.read_text())
    note = out["cells"].pop(0)  # what to install, for the downloaded notebook, not on the page
    assert note["cell_type"] == "markdown" and note["metadata"]["tags"] == ["remove-cell"]
    assert "requirements.lock" in note["source"]
    return out


def test_glue_statements_move_to_a_removed_cell_with_their_records(tmp_path):
    out = run_present(tmp_path, notebook(
        code('# NBVAL_CHECK_OUTPUT\nx = 1\nglue("x", x, display=False)\nprint("x is", x)\n', [RECORD, PRINTED])))
    shown, hidden = out["cells"]
    assert "glue" not in "".join(shown["source"]) and "NBVAL" not in "".join(shown["source"])
    assert shown["outputs"] == [PRINTED] and "remove-cell" not in shown["metadata"]["tags"]
    assert hidden["source"] == 'glue("x", x, display=False)\n'
    assert hidden["outputs"] == [RECORD] and hidden["metadata"]["tags"] == ["remove-cell"]


def test_a_cell_of_glue_only_is_removed_whole(tmp_path):
    out = run_present(tmp_path, notebook(code('glue("x", 1, display=False)\n', [RECORD])))
    assert len(out["cells"]) == 1 and "remove-cell" in out["cells"][0]["metadata"]["tags"]
    assert out["cells"][0]["outputs"] == [RECORD]


def test_figure_code_is_folded_and_parameters_removed(tmp_path):
    out = run_present(tmp_path, notebook(
        code("quick = False\n", tags=["parameters"]),
        code("plt.plot([1, 2])\n", mystnb={"figure": {"caption": "A line."}})))
    params, figure = out["cells"]
    assert "remove-cell" in params["metadata"]["tags"]
    assert "hide-input" in figure["metadata"]["tags"]
    assert out["metadata"]["kernelspec"]["name"] == "python3"


def test_alt_text_is_the_captions_first_sentence_in_plain_text():
    caption = r"Output norm $\|\Phi(X; \alpha\Theta)\|$ against $\alpha$ ({numref}`fig-a`). More."
    assert stage_book.alt_text(caption) == "Output norm ‖Φ(X; αΘ)‖ against α"
    assert stage_book.alt_text("") == "figure"


@pytest.mark.parametrize(
    ("caption", "alt"),
    [
        ("Left: the loss. Right: its gradient.", "Left: the loss"),
        (r"$\tfrac12\|Y - X\|^2$ against $k = 0, \dots, 5$", "1/2‖Y - X‖^2 against k = 0, …, 5"),
        (r"$w \cdot w'$ for $\frac{1}{n}$ samples", "w · w' for 1/n samples"),
    ],
)
def test_alt_text_keeps_labelled_panels_and_reads_tex_symbols(caption, alt):
    assert stage_book.alt_text(caption) == alt


def test_figure_cells_get_alt_text(tmp_path):
    out = run_present(tmp_path, notebook(code("plt.plot([1])\n", mystnb={"figure": {"caption": "A line. Two."}})))
    assert out["cells"][0]["metadata"]["mystnb"]["image"]["alt"] == "A line"


def test_the_presented_notebook_is_valid_with_unique_cell_ids(tmp_path):
    import nbformat

    cells = [dict(code('x = 1\nglue("x", x, display=False)\nprint(x)\n', [RECORD, PRINTED]), id="a"),
             dict(code("y = 2\n"), id="b")]
    src, dst = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    src.write_text(json.dumps(notebook(*cells)))
    stage_book.present(src, dst)
    nb = nbformat.read(dst, as_version=4)
    nbformat.validate(nb)
    ids = [c["id"] for c in nb.cells]
    assert len(ids) == len(set(ids)) == 4


def test_status_table_shows_both_runs_and_flags_a_run_over_budget(tmp_path):
    stems = sorted(p.stem for p in (stage_book.ROOT / "notebooks").glob("*.md"))
    quick, full = tmp_path / "quick", tmp_path / "full"
    quick.mkdir(), full.mkdir()
    entry = {"status": "ok", "seconds": 12.5, "machine": "test cpu", "finished": "now", "stamp": "abcdef0123456789"}
    (quick / "status.json").write_text(json.dumps({stems[0]: entry}))
    (full / "status.json").write_text(json.dumps({stems[0]: {**entry, "seconds": 900.0}}))
    table = stage_book.status_table("quick", quick, other=full)
    row = next(line for line in table.splitlines() if stems[0] in line)
    assert "| ok | 12.5 |" in row and "900.0 (over the 600 s budget)" in row and "abcdef012345" in row
    assert "Measured on: test cpu." in table
    other_row = next(line for line in table.splitlines() if stems[1] in line)
    assert other_row.count("not run in this build") == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("as in {doc}`03_global_opt`, the", "as in {doc}`chapter 3 <03_global_opt>`, the"),
        ("done. {doc}`/notebooks/07_deep` tests it", "done. {doc}`Chapter 7 <07_deep>` tests it".replace(
            "<07_deep>", "</notebooks/07_deep>")),
        ("{doc}`08_network_minima` repeats", "{doc}`Chapter 8 <08_network_minima>` repeats"),
        ("kept: {doc}`the next one <04_nn_lift>`", "kept: {doc}`the next one <04_nn_lift>`"),
        ("not a chapter: {doc}`/book/status`", "not a chapter: {doc}`/book/status`"),
    ],
)
def test_chapter_links_read_by_number(text, expected):
    assert stage_book.number_chapter_links(text) == expected


def _record(name, value):
    return {"output_type": "display_data", "data": {"application/papermill.record/text/plain": repr(value)},
            "metadata": {"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}}}


def test_claims_table_counts_passes_failures_and_settings_per_chapter(tmp_path):
    stem = sorted(p.stem for p in (stage_book.ROOT / "notebooks").glob("*.md"))[0]
    nb = notebook(code("glue(...)", [_record("x", 0.5), _record("n", 3)]))
    (tmp_path / f"{stem}.ipynb").write_text(json.dumps(nb))
    base = dict(notebook=stem, section="S", kind="identity", source="s", reference="0", fails_if=2.0,
                failure="f", runs=["quick"])
    claims = [
        {**base, "id": "a-pass", "key": "x", "claim": "passes", "rule": {"max": 1.0}},
        {**base, "id": "a-fail", "key": "x", "claim": "fails", "rule": {"min": 1.0}},
        {**base, "id": "a-missing", "key": "absent", "claim": "not glued", "rule": {"max": 1.0}},
        {"id": "a-setting", "notebook": stem, "section": "S", "key": "n", "kind": "setting",
         "claim": "a size", "runs": ["quick"]},
        {**base, "id": "a-full-only", "key": "x", "claim": "other run", "rule": {"min": 1.0}, "runs": ["full"]},
    ]
    table = stage_book.claims_table("quick", tmp_path, claims=claims)
    assert "4 claims checked" not in table  # the full-only claim is not in the quick report
    assert "3 claims checked, **2 failed**; 1 settings quoted" in table
    summary = next(line for line in table.splitlines() if line.startswith("| [1."))
    assert summary.endswith("| **2** |")  # the chapter's FAIL column
    assert "not found" in table  # the claim whose key is not glued shows no value, and fails
    assert "No measured disagreement in this run." in table


def test_performance_tables_give_medians_ratios_and_unmet_targets(tmp_path, monkeypatch):
    res = {
        "title": "Path sums (chapter 1)", "script": "benchmarks/bench_x.py", "date": "today",
        "machine": {"cpu": "test cpu", "cores": 2, "threads": 2, "python": "3.11", "numpy": "2",
                    "numba": "0.6", "load_1min": 1.5},
        "repeats": 5,
        "cases": [{"case": "small", "rows": [{"method": "ours", "median_s": 0.002},
                                             {"method": "peer", "median_s": 0.05}]}],
        "targets": [{"what": "ours vs peer", "ratio": 25.0, "min": 30.0},
                    {"what": "illustration", "ratio": 1.5, "min": None}],
    }
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "x.json").write_text(json.dumps(res))
    monkeypatch.setattr(stage_book, "ROOT", tmp_path)
    text = stage_book.performance_tables()
    assert "| ours | 2 ms | 1× |" in text and "| peer | 50.0 ms | 25× |" in text
    assert "| ours vs peer | 25× | ≥ 30× | **no** |" in text  # an unmet target is shown as unmet
    assert "| illustration | 1.5× | none (illustration) | — |" in text
    assert "1-minute load 1.5" in text
    monkeypatch.setattr(stage_book, "ROOT", tmp_path / "empty")
    assert stage_book.performance_tables() == "No benchmark results are committed yet."
