"""tools/stage_book.present: the page hides the plumbing and keeps every glued value."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

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
    assert stage_book.alt_text(caption) == "Output norm ‖Phi(X; alpha Theta)‖ against alpha"
    assert stage_book.alt_text("") == "figure"


def test_figure_cells_get_alt_text(tmp_path):
    out = run_present(tmp_path, notebook(code("plt.plot([1])\n", mystnb={"figure": {"caption": "A line. Two."}})))
    assert out["cells"][0]["metadata"]["mystnb"]["image"]["alt"] == "A line"
