"""Format the code cells of the book's MyST notebooks with ruff, 88 characters to a line.

The book's code column holds about 88 characters at 1280 px; the package itself keeps the
longer line length of ``pyproject.toml``.

Markdown, cell options (``:tags:`` lines and ``---`` YAML blocks) and cells with shell or magic lines
are left as they are. ``--check`` reports the notebooks that would change and exits 1 (``make lint``).
ruff does not wrap strings, comments or docstrings: a code line still longer than 88 characters
after formatting is reported with its line number and fails both modes (wrap it by hand). The
notebook's code, all cells in order, is also linted by ``ruff check`` (pyflakes and bugbear:
undefined or unused names, mutable defaults, ...; ``LINT_RULES``), which fails both modes too.

    python tools/format_notebooks.py [--check] [notebooks/*.md]
"""

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE_LENGTH = 88
# pyflakes, bugbear and syntax errors; an unused loop variable (B007) reads fine in a notebook
LINT_RULES = ["--select", "F,B,E9", "--ignore", "B007,B905"]


def ruff():
    """The ruff next to this interpreter (the project's .venv), else the one on PATH."""
    local = Path(sys.executable).with_name("ruff")
    return str(local) if local.exists() else shutil.which("ruff") or "ruff"


def format_code(code):
    """``code`` formatted by ``ruff format``; unchanged if it has magics or ruff cannot parse it."""
    if any(line.lstrip().startswith(("%", "!")) for line in code.splitlines()):
        return code
    command = [ruff(), "format", "--line-length", str(LINE_LENGTH), "--stdin-filename", "cell.py", "-"]
    done = subprocess.run(command, input=code, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise ValueError(f"ruff could not format a cell:\n{done.stderr}")
    return done.stdout


def format_notebook(text):
    """The MyST notebook ``text`` with every code cell's source formatted."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        out.append(lines[i])
        i += 1
        if not out[-1].startswith("```{code-cell}"):
            continue
        if lines[i] == "---":  # a YAML block of cell options
            end = lines.index("---", i + 1)
            out += lines[i:end + 1]
            i = end + 1
        start = i
        while lines[i].startswith(":"):  # short-form options, then an optional blank line
            i += 1
        if i > start and lines[i] == "":
            i += 1
        out += lines[start:i]
        end = next(j for j in range(i, len(lines)) if lines[j].startswith("```"))
        code = format_code("\n".join(lines[i:end]) + "\n").rstrip("\n")
        out += code.split("\n") if code else []
        i = end
    return "\n".join(out)


def long_lines(text, limit=LINE_LENGTH):
    """``[(line_number, length)]`` of the code-cell lines of ``text`` longer than ``limit``."""
    found, in_code, options = [], False, False
    for number, line in enumerate(text.split("\n"), 1):
        if line.startswith("```"):
            in_code, options = line.startswith("```{code-cell}"), False
            continue
        if in_code and line == "---" and not options:
            options = True  # a YAML block of cell options opens (or closes)
            continue
        if in_code and options:
            options = line != "---"
            continue
        if in_code and not line.startswith(":") and len(line) > limit:
            found.append((number, len(line)))
    return found


def code_of(text):
    """The code of the MyST notebook ``text``: its code cells in order, cell options dropped."""
    cells, current, in_code, options = [], None, False, False
    for line in text.split("\n"):
        if line.startswith("```"):
            if in_code:
                cells.append("\n".join(current))
            in_code, options, current = line.startswith("```{code-cell}"), False, []
            continue
        if not in_code:
            continue
        if line == "---" and not current and not options:
            options = True
        elif options:
            options = line != "---"
        elif not (line.startswith(":") and not current):
            current.append(line)
    return "\n\n".join(c for c in cells if not any(x.lstrip().startswith(("%", "!")) for x in c.split("\n")))


def lint(text, name="notebook.py"):
    """``ruff check`` findings (one per line) for the notebook's code; empty when clean."""
    command = [ruff(), "check", *LINT_RULES, "--output-format", "concise", "--stdin-filename", name, "-"]
    done = subprocess.run(command, input=code_of(text), capture_output=True, text=True, cwd=ROOT)
    return [line for line in done.stdout.splitlines() if line.startswith(name)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report, do not write")
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args(argv)
    changed = []
    for path in args.paths or sorted((ROOT / "notebooks").glob("*.md")):
        text = path.read_text()
        new = format_notebook(text)
        if new != text:
            changed.append(path)
            if not args.check:
                path.write_text(new)
    for path in changed:
        print(f"{'would reformat' if args.check else 'reformatted'} {path}")
    too_long = [
        (path, number, length)
        for path in args.paths or sorted((ROOT / "notebooks").glob("*.md"))
        for number, length in long_lines(path.read_text())
    ]
    for path, number, length in too_long:
        print(f"{path}:{number}: code line of {length} characters (over {LINE_LENGTH}; wrap it by hand)")
    findings = [
        finding
        for path in args.paths or sorted((ROOT / "notebooks").glob("*.md"))
        for finding in lint(path.read_text(), f"{path.stem}.py")
    ]
    for finding in findings:
        print(f"ruff check (notebook code): {finding}")
    return 1 if (args.check and changed) or too_long or findings else 0


if __name__ == "__main__":
    sys.exit(main())
