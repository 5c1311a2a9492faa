"""Build the HTML book from executed notebooks.

    python tools/stage_book.py --mode full     # -> _build/html
    python tools/stage_book.py --mode quick    # -> _build/html-quick

The book sources (``_config.yml``, ``_toc.yml``, ``book/``) are copied into a
staging folder ``_build/stage/MODE`` in which each ``notebooks/NAME.md`` is
replaced by its executed ``_build/executed/MODE/NAME.ipynb``; the book is then
built there with ``execute_notebooks: off``, so glued values are rendered from the
run and every chapter page offers its executed notebook for download. Three
pages get generated tables at their ``<!-- ... -->`` markers: the
Reproducibility report (``tests/claims.yml`` against the run), the execution
status (``status.json`` of the run) and Performance (``benchmarks/results/*.json``).
"""

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import claim_schema as claims_mod  # noqa: E402
from execute import BUDGET_S  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


COUNTED = ("paper", "theory", "prediction", "identity", "planted", "disagreement")
COLUMNS = {
    "paper": "paper",
    "theory": "theory",
    "prediction": "predicted",
    "identity": "identity",
    "planted": "planted",
    "disagreement": "disagrees",
}


def _cell(text):
    """Table-cell text: no pipes or newlines, markdown emphasis and HTML characters escaped."""
    text = str(text).replace("\n", " ").replace("|", "\\|")
    return re.sub(r"([*_<>\[\]])", r"\\\1", text)


def _fmt(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return "not found" if value is None else str(value)


def _chapters():
    """Notebook stem -> (number, title, anchors) for every chapter."""
    out = {}
    for md in sorted((ROOT / "notebooks").glob("*.md")):
        text = md.read_text()
        title = next((t for level, t in claims_mod.headings(text) if level == 1), md.stem)
        out[md.stem] = (int(md.stem[:2]), title, claims_mod.anchors(text))
    return out


def _link(text, stem, section, chapters):
    anchor = chapters[stem][2].get(section, "")
    return f"[{text}](../notebooks/{stem}.ipynb#{anchor})"


def _reference(r):
    if r["kind"] == "theory":
        return _fmt(r["reference_value"])
    ref = _cell(r["reference"])
    return f"{ref} (unverified)" if r.get("unverified") else ref


def _ours(r):
    text = _fmt(r["value"])
    if r["kind"] == "disagreement" and all(isinstance(v, (int, float)) for v in r["interval"]):
        return f"{text} [{r['interval'][0]:.3g}, {r['interval'][1]:.3g}]"
    if isinstance(r["se"], (int, float)) and not isinstance(r["se"], bool):
        return f"{text} ± {r['se']:.2g}"
    return text


def _second_line(r):
    where = f"; {r['where']}" if r.get("where") else ""
    rule = _cell(claims_mod.describe_rule(r["rule"]))
    return f"<br><small>{_cell(r['source'])}{_cell(where)} · rule {rule} · `{r['id']}`</small>"


def claims_table(mode, executed, claims=None):
    """The Reproducibility report: summary, disagreements, then each chapter's claims."""
    rows, chapters = claims_mod.results(mode, executed, claims), _chapters()
    counted = [r for r in rows if r["kind"] not in claims_mod.UNCOUNTED]
    n_set = sum(r["kind"] == "setting" for r in rows)
    n_rep = sum(r["kind"] == "reported" for r in rows)
    lines = [
        f"Run: **{mode}** (`quick = {mode == 'quick'}`): {len(counted)} claims checked, "
        f"**{sum(not r['ok'] for r in counted)} failed**; {n_set} settings quoted by the prose"
        + (f" and {n_rep} measurements reported without a claim" if n_rep else "")
        + " are listed under their chapters and not counted.",
        "",
        "## Summary",
        "",
        "Per chapter: paper results reproduced, theory predictions confirmed, qualitative predictions "
        "(stated before the run as a bound) met, identities exact, planted "
        "truths recovered, disagreements with a paper (measured and explained), and failures.",
        "",
        "| chapter | " + " | ".join(COLUMNS.values()) + " | FAIL |",
        "|---|" + "---|" * (len(COLUMNS) + 1),
    ]
    totals = dict.fromkeys([*COUNTED, "FAIL"], 0)
    for stem, (num, title, _) in chapters.items():
        mine = [r for r in counted if r["notebook"] == stem]
        counts = {k: sum(r["ok"] and r["kind"] == k for r in mine) for k in COUNTED}
        counts["FAIL"] = sum(not r["ok"] for r in mine)
        for k in totals:
            totals[k] += counts[k]
        fails = f"**{counts['FAIL']}**" if counts["FAIL"] else "0"
        lines.append(f"| [{num}. {_cell(title)}](#report-ch{num:02d}) | "
                     + " | ".join(str(counts[k]) for k in COUNTED) + f" | {fails} |")
    lines.append("| **all chapters** | " + " | ".join(f"**{totals[k]}**" for k in COUNTED)
                 + f" | **{totals['FAIL']}** |")
    lines += ["", "## Disagreements with the papers", ""]
    disagreements = [r for r in counted if r["kind"] == "disagreement"]
    for r in disagreements:
        num = chapters[r["notebook"]][0]
        verdict = "" if r["ok"] else " **FAIL: the interval does not exclude the paper's value.**"
        lines.append(
            f"- **{_cell(r['claim'])}** (chapter {num}). The paper: {_reference(r)} ({_cell(r['where'])}); "
            f"ours: {_ours(r)}. Explained in "
            f"{_link(_cell(r['explained_in']), r['notebook'], r['explained_in'], chapters)}.{verdict}"
        )
    if not disagreements:
        lines.append("No measured disagreement in this run.")
    lines += ["", "## Chapter by chapter", ""]
    for stem, (num, title, _) in chapters.items():
        lines += _chapter_section(stem, num, title, [r for r in rows if r["notebook"] == stem], chapters)
    return "\n".join(lines)


def _chapter_section(stem, num, title, rows, chapters):
    counted = [r for r in rows if r["kind"] not in claims_mod.UNCOUNTED]
    settings = [r for r in rows if r["kind"] == "setting"]
    reported = [r for r in rows if r["kind"] == "reported"]
    failed = sum(not r["ok"] for r in counted)
    out = [
        f"(report-ch{num:02d})=",
        f"### {num}. {title}",
        "",
        f"::::{{dropdown}} {len(counted)} claims, {failed} failed" + (" (open)" if failed else ""),
    ]
    if failed:
        out.append(":open:")
    out += [
        "",
        ":::{container} claims-table",
        "| claim | kind | paper or theory value | ours | verdict |",
        "|---|---|---|---|---|",
    ]
    for r in counted:
        if r["ok"]:
            verdict = r["verdict"]
        elif r.get("on_record"):
            verdict = f"**failed** (kept on record, rule unchanged): {_cell(r['why'])}"
        else:
            verdict = f"**FAIL**: {_cell(r['why'])}"
        out.append(
            f"| {_link(_cell(r['claim']), stem, r['section'], chapters)}{_second_line(r)} | {r['kind']} "
            f"| {_reference(r)} | {_cell(_ours(r))} | {verdict} |"
        )
    out += [":::", ""]
    if settings:
        out.append("Settings the chapter quotes (not results): " + "; ".join(
            f"{_cell(r['claim'])} = {_cell(_fmt(r['value']))}" for r in settings) + ".")
        out.append("")
    if reported:
        out.append("Measurements the chapter reports without a claim (nothing was predicted for them, "
                   "so they are not counted): " + "; ".join(
                       f"{_cell(r['claim'])} = {_cell(_fmt(r['value']))}" for r in reported) + ".")
        out.append("")
    out += ["::::", ""]
    return out


def _status(executed):
    status_file = Path(executed) / "status.json"
    return json.loads(status_file.read_text()) if status_file.exists() else {}


def _run_cell(e, mode):
    """One run's status and time for the status table, the time flagged when over budget."""
    if not e:
        return "not run in this build", ""
    seconds = e.get("seconds", "")
    over = isinstance(seconds, (int, float)) and seconds > BUDGET_S[mode]
    return e.get("status", ""), f"{seconds} (over the {BUDGET_S[mode]} s budget)" if over else f"{seconds}"


def status_table(mode, executed, other=None):
    """The execution status page's table: both runs of every notebook, where they exist.

    ``executed`` holds the runs of ``mode`` (the book's own); ``other`` (default
    ``_build/executed/<the other mode>``) those of the other mode, shown when present.
    """
    other_mode = "full" if mode == "quick" else "quick"
    runs = {mode: _status(executed), other_mode: _status(other or ROOT / "_build" / "executed" / other_mode)}
    machines = sorted({e["machine"] for st in runs.values() for e in st.values() if e.get("machine")})
    entries = [e for st in runs.values() for e in st.values()]
    jobs = max((e.get("jobs", 1) for e in entries), default=1)
    alone = sorted({e["notebook"] for e in entries if e.get("threads", 1) > 1})
    together = f"notebooks run {jobs} at a time, one thread each" if jobs > 1 else "notebooks run one at a time"
    if alone:
        together += f", except {', '.join(alone)}, which asks for more threads and runs alone"
    together += "; a notebook over its budget fails the run"
    lines = [
        f"This book shows the **{mode}** run. Budgets per notebook: quick {BUDGET_S['quick']} s, "
        f"full {BUDGET_S['full']} s, on the 2-core reference machine ({together}).",
        "",
        "Measured on: " + ("; ".join(machines) if machines else "not recorded") + ".",
        "",
        "| notebook | quick run | quick time (s) | full run | full time (s) | finished | "
        f"content stamp ({mode}) |",
        "|---|---|---|---|---|---|---|",
    ]
    for md in sorted((ROOT / "notebooks").glob("*.md")):
        q_status, q_time = _run_cell(runs["quick"].get(md.stem), "quick")
        f_status, f_time = _run_cell(runs["full"].get(md.stem), "full")
        e = runs[mode].get(md.stem, {})
        lines.append(
            f"| {{doc}}`/notebooks/{md.stem}` | {q_status} | {q_time} | {f_status} | {f_time} "
            f"| {e.get('finished', '')} | `{e.get('stamp', '')[:12]}` |"
        )
    return "\n".join(lines)


def performance_tables():
    """The Performance page's sections, one per ``benchmarks/results/*.json``, in chapter order.

    Each section: the machine and the run, a table of medians per case with the ratio to
    the fastest, the targets (a ratio without one is an illustration), where present the
    machine's limit for the work and the fraction of it reached, and the cost-against-size
    plot drawn by the benchmark with the fitted exponent beside the theoretical one (a
    series' own ``"theory"`` where it has one, else the section's).
    Ratios and times are written in plain notation ("27×", "0.123 ms").
    """

    def chapter(res):
        m = re.search(r"\(chapters? (\d+)", res["title"])
        return int(m[1]) if m else 99

    def ratio(r):
        return f"{r:,.0f}×" if r >= 10 else f"{r:.2g}×"

    def ms(seconds):
        v = seconds * 1e3
        return f"{v:,.0f} ms" if v >= 100 else f"{v:.1f} ms" if v >= 10 else f"{v:.3g} ms"

    def target(t):
        if t["min"] is None:
            return f"| {t['what']} | {ratio(t['ratio'])} | none (illustration) | — |"
        met = "yes" if t["ratio"] >= t["min"] else "**no**"
        return f"| {t['what']} | {ratio(t['ratio'])} | ≥ {ratio(t['min'])} | {met} |"

    results = [json.loads(p.read_text()) for p in sorted((ROOT / "benchmarks" / "results").glob("*.json"))]
    out = []
    for res in sorted(results, key=chapter):
        m = res["machine"]
        load = f", 1-minute load {m['load_1min']:g}" if "load_1min" in m else ""
        out += [
            f"## {res['title']}",
            "",
            f"`{res['script']}`, run {res['date']} on {m['cpu']} ({m['cores']} cores, "
            f"{m['threads']} numba threads{load}), Python {m['python']}, numpy {m['numpy']}, "
            f"numba {m['numba']}. Median of {res['repeats']} runs.",
            "",
        ]
        if res.get("notes"):
            out += [res["notes"], ""]
        for case in res["cases"]:
            out += [f"**{case['case']}**", "", "| method | median | relative to fastest |", "|---|---|---|"]
            best = min(r["median_s"] for r in case["rows"])
            out += [f"| {r['method']} | {ms(r['median_s'])} | {ratio(r['median_s'] / best)} |" for r in case["rows"]]
            out.append("")
        out += ["| target | measured ratio | required | met |", "|---|---|---|---|"]
        out += [target(t) for t in res["targets"]]
        out.append("")
        if "peak" in res and "limits" in res:
            peak = res["peak"]["fma_per_s"]
            out += [
                f"**The machine's limit.** The peak rate is {peak / 1e9:.1f}·10⁹ multiply–adds per second, "
                f"{res['peak']['what']}; the limit for a piece of work is its count of floating-point operations "
                "(a multiply–add or a multiply each) at that rate. No enumeration of the same terms can "
                "beat its peer by more than the peer's time over that limit (last column).",
                "",
                "| case | path·samples | operations | limit | measured | Gpath·sample/s | fraction of the limit "
                "| largest ratio possible against the numpy peer |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for lim in res["limits"]:
                measured = lim["ops"] / peak / lim["fraction_of_limit"]
                largest = ratio(lim["largest_ratio"]) if "largest_ratio" in lim else "—"
                out.append(
                    f"| {lim['case']} | {lim['path_samples']:,} | {lim['ops']:,} | {ms(lim['limit_s'])} "
                    f"| {ms(measured)} | {lim['gpath_samples_per_s']:.2f} | {lim['fraction_of_limit']:.0%} "
                    f"| {largest} |"
                )
            out.append("")
        for sc in res.get("scaling", []):
            if not (ROOT / "book" / sc["plot"]).exists():
                continue
            fits = "; ".join(f"{s['method']}: {s['exponent']:.2f}" for s in sc["series"])
            theories = {s.get("theory", sc["theory"]) for s in sc["series"]}
            theory = (f"theory {sc['theory']:g}" if theories == {sc["theory"]} else "theory "
                      + "; ".join(f"{s['method']}: {s.get('theory', sc['theory']):g}" for s in sc["series"]))
            out += [
                f"```{{figure}} {sc['plot']}",
                f":alt: Median time against {sc['size']}, log-log, for {res['title']}",
                ":width: 90%",
                "",
                f"Cost against size, {sc['what']}: median wall time against {sc['size']} on log–log axes, "
                f"with least-squares lines. Fitted exponents {fits}; {theory}.",
                "```",
                "",
                "| method | fitted exponent | theoretical exponent |",
                "|---|---|---|",
            ]
            out += [f"| {s['method']} | {s['exponent']:.2f} | {s.get('theory', sc['theory']):g} |"
                    for s in sc["series"]]
            out.append("")
    return "\n".join(out) if out else "No benchmark results are committed yet."


_MARKER = re.compile(r"^[ \t]*# NBVAL_CHECK_OUTPUT[ \t]*\n?|[ \t]+# noqa(: [A-Z0-9, ]+)?$", re.MULTILINE)


def present(src, dst):
    """Copy an executed notebook for the page: plumbing hidden, outputs and code otherwise untouched.

    The parameters cell and papermill's injected-parameters cell are tagged ``remove-cell``
    (they stay in the downloadable notebook); the top-level ``glue(...)`` statements of a cell
    move, with the glue records they output, into a ``remove-cell`` cell right after it; the
    code of a cell that draws a figure is folded (``hide-input``); nbval markers and lint
    comments are dropped from the source shown; the notebook declares the standard ``python3``
    kernel.
    """
    nb = json.loads(Path(src).read_text())
    cells = []
    for cell in nb["cells"]:
        cells.append(cell)
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if {"parameters", "injected-parameters"} & set(tags) and "remove-cell" not in tags:
            tags.append("remove-cell")
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = number_chapter_links(source)
        if cell["cell_type"] != "code" or "remove-cell" in tags:
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        cell["source"] = _MARKER.sub("", source).lstrip("\n")
        shown, glued = split_glue(cell["source"])
        if glued and shown.strip():
            records = [o for o in cell.get("outputs", []) if _is_glue_record(o)]
            cell["source"] = shown
            cell["outputs"] = [o for o in cell.get("outputs", []) if not _is_glue_record(o)]
            cells.append({"cell_type": "code", "execution_count": None, "source": glued,
                          "id": f"{cell.get('id', len(cells))}-glue",
                          "metadata": {"tags": ["remove-cell"]}, "outputs": records})
        elif glued:
            tags.append("remove-cell")
        figure = cell["metadata"].get("mystnb", {}).get("figure")
        if figure is not None:
            if "hide-input" not in tags:
                tags.append("hide-input")
            image = cell["metadata"]["mystnb"].setdefault("image", {})
            image.setdefault("alt", alt_text(figure.get("caption", "")))
    cells.insert(0, {"cell_type": "markdown", "id": "tensordl-install-note",
                     "metadata": {"tags": ["remove-cell"]}, "source": INSTALL_NOTE})
    nb["cells"] = cells
    nb["metadata"]["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    Path(dst).write_text(json.dumps(nb, indent=1, ensure_ascii=False))


INSTALL_NOTE = (
    "To run this notebook you need the `tensordl` package and its pinned dependencies: from the book's "
    "source archive (How to run page), `python3.11 -m venv .venv && .venv/bin/pip install -r "
    "requirements.lock -e .`, then run it with the standard `python3` kernel of that environment."
)


_DOC_LINK = re.compile(r"\{doc\}`(/?(?:notebooks/)?(\d\d)_[A-Za-z0-9_]+)`")


def number_chapter_links(text):
    """Links to chapters by number: ``{doc}`03_name``` reads "chapter 3" (a capital C at
    the start of a sentence), linked to the chapter; links with their own text are kept.
    The number is the notebook's, which is the chapter's number in the table of contents.
    """

    def repl(m):
        before = text[: m.start()].rstrip(" *_(")
        word = "Chapter" if not before or before[-1] in ".!?:\n" else "chapter"
        return f"{{doc}}`{word} {int(m[2])} <{m[1]}>`"

    return _DOC_LINK.sub(repl, text)


def split_glue(source):
    """``(shown, glued)``: the cell's source without its top-level ``glue(...)`` statements, and them.

    A cell that does not parse is returned whole. Comments and blank lines stay with the code.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source, ""
    lines = source.splitlines(keepends=True)
    taken = set()
    for node in tree.body:
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id == "glue"):
            taken.update(range(node.lineno - 1, node.end_lineno))
    glued = "".join(lines[i] for i in sorted(taken))
    shown = "".join(line for i, line in enumerate(lines) if i not in taken)
    return re.sub(r"\n{3,}", "\n\n", shown).strip("\n") + "\n" if taken else source, glued


_TEX_SYMBOLS = {
    "cdot": "·", "dots": "…", "ldots": "…", "cdots": "…", "times": "×", "le": "≤", "leq": "≤",
    "ge": "≥", "geq": "≥", "approx": "≈", "propto": "∝", "infty": "∞", "to": "→", "pm": "±",
    "sqrt": "√", "sum": "Σ", "ell": "ℓ", "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ",
    "epsilon": "ε", "eta": "η", "theta": "θ", "Theta": "Θ", "lambda": "λ", "Lambda": "Λ",
    "mu": "μ", "nu": "ν", "rho": "ρ", "sigma": "σ", "Sigma": "Σ", "tau": "τ", "phi": "φ",
    "Phi": "Φ", "psi": "ψ", "omega": "ω", "Omega": "Ω", "pi": "π", "xi": "ξ",
}


def alt_text(caption):
    """The first sentence of a figure caption as plain text, for the image's ``alt``."""
    text = re.sub(r"\s*\(?\{(numref|ref)\}`[^`]*`\)?", "", caption)
    text = re.sub(r"\{(doc|cite)\}`([^`]*)`", r"\2", text)
    text = re.sub(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"\1/\2", text)
    text = re.sub(r"\\[dt]?frac\s*(\w)(\w)", r"\1/\2", text)
    text = re.sub(r"\\(?:left|right|mathcal|mathbb|mathrm|operatorname|,|;|!)", "", text)
    text = re.sub(r"\\([A-Za-z]+)", lambda m: _TEX_SYMBOLS.get(m[1], m[1] + " "), text)
    text = text.replace("\\|", "‖")
    text = re.sub(r"[${}\\]", "", " ".join(text.split()))
    text = re.sub(r"\s+([,.)_^])", r"\1", " ".join(text.split()))
    first = re.split(r"(?<=\.)\s", text, maxsplit=1)[0]
    return first.rstrip(".:") or "figure"


def _is_glue_record(output):
    """True for the output a ``glue(..., display=False)`` call leaves (a scrapbook record)."""
    return "scrapbook" in output.get("metadata", {})


def mathjax_dir():
    """MathJax 3 (es5 build) from the pinned ``django-static-mathjax`` wheel: the book serves it itself."""
    import mathjax

    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (es5 / "tex-chtml.js").exists():
        raise SystemExit(f"MathJax not found at {es5}: reinstall the environment (make env)")
    return es5


def fill(page, marker, text):
    src = page.read_text()
    tag = f"<!-- {marker} -->"
    if tag not in src:
        raise SystemExit(f"{page}: marker {tag} not found")
    page.write_text(src.replace(tag, text))


def stage(mode, executed, stage_dir):
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    stage_dir.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, stage_dir / name)
    # outside _static: Jupyter Book adds every .js file it finds there to every page
    shutil.copytree(mathjax_dir(), stage_dir / "_extra" / "mathjax")
    shutil.copytree(ROOT / "book", stage_dir / "book")
    for page in (stage_dir / "book").glob("*.md"):
        page.write_text(number_chapter_links(page.read_text()))
    shutil.copytree(ROOT / "book" / "_static", stage_dir / "_static")
    (stage_dir / "notebooks").mkdir()
    missing = []
    for md in sorted((ROOT / "notebooks").glob("*.md")):
        ipynb = Path(executed) / f"{md.stem}.ipynb"
        if not ipynb.exists():
            missing.append(md.stem)
            continue
        present(ipynb, stage_dir / "notebooks" / ipynb.name)
    if missing:
        raise SystemExit(f"not executed in {executed}: {missing}; run tools/execute.py --mode {mode} first")
    fill(stage_dir / "book" / "reproducibility.md", "claims-table", claims_table(mode, executed))
    fill(stage_dir / "book" / "status.md", "status-table", status_table(mode, executed))
    fill(stage_dir / "book" / "performance.md", "benchmark-tables", performance_tables())
    fill(stage_dir / "book" / "how_to_run.md", "downloads", downloads(stage_dir / "_extra" / "downloads"))


def downloads(out):
    """The source archive (``git archive`` of HEAD) and the wheel of ``tensordl``, for the reader.

    Returns the Markdown list of links for the How-to-run page (served at ``/downloads/``).
    """
    out.mkdir(parents=True, exist_ok=True)
    items = []
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode == 0:
        name = f"tensordl-src-{head.stdout.strip()}.tar.gz"
        subprocess.run(["git", "archive", "--format=tar.gz", "--prefix=tensordl/", "-o", str(out / name),
                        "HEAD"], cwd=ROOT, check=True)
        items.append(f'- <a href="../downloads/{name}">{name}</a>: the repository at commit '
                     f"`{head.stdout.strip()}` (notebooks, package, tests, this book's sources)")
    else:
        items.append("- the source archive: not built (this checkout is not a git repository)")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(ROOT)], check=True)
    wheel = next(out.glob("tensordl-*.whl")).name
    items.append(f'- <a href="../downloads/{wheel}">{wheel}</a>: the package alone '
                 f"(`pip install {wheel}`; its dependencies are pinned in `requirements.lock`)")
    return "\n".join(items)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("quick", "full"), required=True)
    args = parser.parse_args(argv)
    executed = ROOT / "_build" / "executed" / args.mode
    stage_dir = ROOT / "_build" / "stage" / args.mode
    html = ROOT / "_build" / ("html" if args.mode == "full" else "html-quick")
    stage(args.mode, executed, stage_dir)
    cmd = [sys.executable, "-m", "jupyter_book", "build", str(stage_dir), "-n", "-W", "--keep-going"]
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent))
    if jb:
        cmd = [jb, "build", str(stage_dir), "-n", "-W", "--keep-going"]
    print(" ".join(cmd), flush=True)
    rc = subprocess.call(cmd)
    if rc != 0:
        return rc
    if html.exists():
        shutil.rmtree(html)
    shutil.copytree(stage_dir / "_build" / "html", html)
    print(f"book written to {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
