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
import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import claims as claims_mod  # noqa: E402
from execute import BUDGET_S  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return "not found" if value is None else str(value)


def claims_table(mode, executed):
    rows = claims_mod.results(mode, executed)
    n_ok = sum(r["ok"] for r in rows)
    lines = [
        f"Run: **{mode}** (`quick = {mode == 'quick'}`). **{n_ok} of {len(rows)} claims pass.**",
        "",
        "| claim | chapter | source | paper's value | rule | ours | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {_cell(r['claim'])} (`{r['id']}`) | {{doc}}`/notebooks/{r['notebook']}` | {_cell(r['source'])} "
            f"| {_cell(r['paper'])} | {_cell(claims_mod.describe_rule(r['rule']))} | {_cell(_fmt(r['value']))} "
            f"| {'pass' if r['ok'] else '**FAIL**'} |"
        )
    return "\n".join(lines)


def status_table(mode, executed):
    status_file = Path(executed) / "status.json"
    status = json.loads(status_file.read_text()) if status_file.exists() else {}
    lines = [
        f"Run: **{mode}**; budget per notebook {BUDGET_S[mode]} s on the 2-core reference machine.",
        "",
        "| notebook | status | run time (s) | finished | content stamp |",
        "|---|---|---|---|---|",
    ]
    for md in sorted((ROOT / "notebooks").glob("*.md")):
        e = status.get(md.stem, {})
        lines.append(
            f"| {{doc}}`/notebooks/{md.stem}` | {e.get('status', 'not run')} | {e.get('seconds', '')} "
            f"| {e.get('finished', '')} | `{e.get('stamp', '')[:12]}` |"
        )
    return "\n".join(lines)


def performance_tables():
    out = []
    for path in sorted((ROOT / "benchmarks" / "results").glob("*.json")):
        res = json.loads(path.read_text())
        m = res["machine"]
        out += [
            f"## {res['title']}",
            "",
            f"`{res['script']}`, run {res['date']} on {m['cpu']} ({m['cores']} cores, "
            f"{m['threads']} numba threads), Python {m['python']}, numpy {m['numpy']}, numba {m['numba']}. "
            f"Median of {res['repeats']} runs.",
            "",
        ]
        for case in res["cases"]:
            out += [f"**{case['case']}**", "", "| method | median (s) | relative to fastest |", "|---|---|---|"]
            best = min(r["median_s"] for r in case["rows"])
            out += [f"| {r['method']} | {r['median_s']:.4g} | {r['median_s'] / best:.3g}× |" for r in case["rows"]]
            out.append("")
        out += ["| target | measured ratio | required | met |", "|---|---|---|---|"]
        out += [_target_row(t) for t in res["targets"]]
        out.append("")
    return "\n".join(out) if out else "No benchmark results are committed yet."


def _target_row(t):
    """A target line; ``min: null`` marks a ratio that is reported without a target."""
    if t["min"] is None:
        return f"| {t['what']} | {t['ratio']:.3g}× | none | — |"
    return f"| {t['what']} | {t['ratio']:.3g}× | ≥ {t['min']:g}× | {'yes' if t['ratio'] >= t['min'] else '**no**'} |"


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
    shutil.copytree(ROOT / "book", stage_dir / "book")
    (stage_dir / "notebooks").mkdir()
    missing = []
    for md in sorted((ROOT / "notebooks").glob("*.md")):
        ipynb = Path(executed) / f"{md.stem}.ipynb"
        if not ipynb.exists():
            missing.append(md.stem)
            continue
        shutil.copy(ipynb, stage_dir / "notebooks" / ipynb.name)
    if missing:
        raise SystemExit(f"not executed in {executed}: {missing}; run tools/execute.py --mode {mode} first")
    fill(stage_dir / "book" / "reproducibility.md", "claims-table", claims_table(mode, executed))
    fill(stage_dir / "book" / "status.md", "status-table", status_table(mode, executed))
    fill(stage_dir / "book" / "performance.md", "benchmark-tables", performance_tables())


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
