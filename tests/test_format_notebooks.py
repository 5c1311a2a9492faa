"""tools/format_notebooks.py formats code cells only, and --check reports without writing."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import format_notebooks  # noqa: E402

NOTEBOOK = """# Title

Some prose with a long line that must stay exactly as it is, however long it gets, well past 88 characters.

```{code-cell} ipython3
:tags: [parameters]

quick = False
```

```{code-cell} ipython3
---
mystnb:
  figure:
    caption: A caption that is long and must not be touched by the formatter at all, ever, at any width.
---
x = {"a":1,"b":2}
argument_one = argument_two = argument_three = argument_four = 1
some_function_with_a_long_name = max
y = some_function_with_a_long_name(argument_one, argument_two, argument_three, argument_four)
```
"""


def test_code_is_formatted_and_everything_else_kept():
    out = format_notebooks.format_notebook(NOTEBOOK)
    assert 'x = {"a": 1, "b": 2}' in out
    code_lines = out.split("---\n")[-1].split("```")[0].splitlines()
    assert max(len(line) for line in code_lines) <= format_notebooks.LINE_LENGTH
    for kept in ("Some prose with a long line that must stay exactly as it is, however long it gets",
                 ":tags: [parameters]\n\nquick = False",
                 "caption: A caption that is long and must not be touched by the formatter at all"):
        assert kept in out
    assert format_notebooks.format_notebook(out) == out  # idempotent


def test_check_reports_and_does_not_write(tmp_path, capsys):
    path = tmp_path / "nb.md"
    path.write_text(NOTEBOOK)
    assert format_notebooks.main(["--check", str(path)]) == 1
    assert path.read_text() == NOTEBOOK
    assert "would reformat" in capsys.readouterr().out
    assert format_notebooks.main([str(path)]) == 0
    assert format_notebooks.main(["--check", str(path)]) == 0


def test_unparsable_cell_is_an_error():
    with pytest.raises(ValueError, match="ruff could not format"):
        format_notebooks.format_notebook("```{code-cell} ipython3\nx = (\n```\n")


def test_long_code_lines_are_found_outside_options_and_markdown():
    import format_notebooks

    long = "x = '" + "a" * 90 + "'"
    text = "\n".join(
        [
            "A markdown line " + "b" * 100,
            "```{code-cell} ipython3",
            "---",
            "mystnb:",
            "  figure:",
            "    caption: " + "c" * 100,
            "---",
            "y = 1",
            long,
            "```",
            "```{code-cell} ipython3",
            ":tags: [" + "d" * 100 + "]",
            "",
            "z = 2",
            "```",
        ]
    )
    assert format_notebooks.long_lines(text) == [(9, len(long))]


def test_lint_reports_undefined_and_unused_names_in_the_notebook_code(tmp_path, capsys):
    path = tmp_path / "nb.md"
    path.write_text("```{code-cell} ipython3\nimport os\n\nprint(undefined_name)\n```\n")
    assert format_notebooks.main([str(path)]) == 1
    out = capsys.readouterr().out
    assert "F401" in out and "F821" in out
    path.write_text("```{code-cell} ipython3\nimport os\n\nprint(os.sep)\n```\n")
    assert format_notebooks.main(["--check", str(path)]) == 0
