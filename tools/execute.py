"""Execute the book's notebooks with papermill, re-running only what changed.

    python tools/execute.py --mode quick            # every notebook, quick = True
    python tools/execute.py --mode full 01_networks_as_polynomials
    python tools/execute.py --mode full --jobs 1    # one notebook at a time

Each ``notebooks/NAME.md`` (Jupytext MyST) is converted to a notebook and run
with ``quick`` set by the mode into ``_build/executed/MODE/NAME.ipynb``. A
content stamp -- the hash of the notebook source, the package modules it imports
(with the modules those import), the lock file and this script -- is stored beside it; a
notebook whose stamp has not changed since its last successful run is not run
again (jupyter-cache hashes code cells only and cannot see package changes).
A failing notebook is reported with its name and failing cell; the others still
run, and the script exits non-zero at the end. Run times go to
``_build/executed/MODE/status.json`` for the book's execution status page.

Notebooks run ``--jobs`` at a time (default: one per core, at most two), longest first
by their last recorded time. Every kernel gets one thread for BLAS, OpenMP, numba
and torch whatever ``--jobs`` is, so a printed number never depends on how many
notebooks ran beside it; a notebook whose front matter asks for more
(``tensordl: {threads: 2}``) gets them and runs alone, before the others. A notebook
over its budget (quick 60 s, full 600 s per notebook, timed as it ran) fails the run
with its time;
``--warn-budget`` only warns, for a machine busy with other work.
"""

import argparse
import hashlib
import json
import os
import platform
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BUDGET_S = {"quick": 60, "full": 600}
KERNEL = "tensordl"
# seconds a kernel may take to start (papermill and nbval wait 60 s by default, which ran out
# for a kernel on a busy CI machine)
KERNEL_START_TIMEOUT_S = 180
# one thread per kernel: notebooks run side by side, and their numbers must not depend on it;
# a notebook given N threads also gets N worker processes for tensordl.parallel.pmap
THREAD_VARS = (
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "TENSORDL_WORKERS",
)
THREAD_ENV = dict.fromkeys(THREAD_VARS, "1")


def threads_of(md_path, mode=None):
    """Threads a notebook asks for in its front matter, 1 by default: ``tensordl: {threads: N}``
    for both runs, or ``tensordl: {threads: {quick: N, full: M}}`` per run (``mode``)."""
    import yaml

    text = md_path.read_text()
    if not text.startswith("---\n"):
        return 1
    front = yaml.safe_load(text[4 : text.index("\n---", 4)]) or {}
    threads = (front.get("tensordl") or {}).get("threads", 1)
    if isinstance(threads, dict):
        threads = threads.get(mode, 1)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"{md_path.name}: tensordl.threads must be a positive integer, got {threads!r}")
    return threads


PACKAGE = "tensordl"
_IMPORT = re.compile(
    rf"^\s*(?:from\s+{PACKAGE}(?:\.(\w+))?\s+import\s+(\([^)]*\)|.+)|import\s+{PACKAGE}(?:\.(\w+))?)",
    re.M,
)


def _imported_modules(text, package_dir):
    """Modules of the package that ``text`` (Python source) imports by name.

    ``from tensordl import a, b as c`` gives {a, b}; ``from tensordl.a import f`` and
    ``import tensordl.a`` give {a}; a bare ``import tensordl`` gives every module.
    Relative imports (``from .a import f``, ``from . import a``) count the same way
    when ``text`` is a module of the package.
    """
    everything = {p.stem for p in package_dir.glob("*.py")} - {"__init__"}
    found = set()
    for sub, names, sub2 in _IMPORT.findall(text):
        if sub or sub2:
            found.add(sub or sub2)
        elif names:
            names = re.sub(r"#.*", "", names).strip("()\\ \n")
            found |= {n.split(" as ")[0].strip() for n in re.split(r"[,\n]", names)} & everything
        else:
            return everything
    for sub, names in re.findall(r"^\s*from\s+\.(\w*)\s+import\s+(\([^)]*\)|.+)", text, re.M):
        if sub:
            found.add(sub)
        else:
            names = re.sub(r"#.*", "", names).strip("()\\ \n")
            found |= {n.split(" as ")[0].strip() for n in re.split(r"[,\n]", names)} & everything
    return found & everything


def package_files(md_path, root=ROOT):
    """The package files a notebook's output depends on: the modules it imports,
    what they import in turn, ``__init__.py`` and the shared private helpers.
    """
    package_dir = root / "src" / PACKAGE
    todo = _imported_modules(md_path.read_text(), package_dir)
    seen = set()
    while todo:
        name = todo.pop()
        seen.add(name)
        todo |= _imported_modules((package_dir / f"{name}.py").read_text(), package_dir) - seen
    files = [package_dir / "__init__.py"] + [package_dir / f"{n}.py" for n in seen]
    return sorted(set(files))


def stamp(md_path, mode, root=ROOT):
    """Hash of everything a notebook's output depends on: its source, the package
    modules it imports (with theirs), the lock file and this script; editing one
    module re-runs only the notebooks that use it.
    """
    h = hashlib.sha256(f"mode={mode}\n".encode())
    files = [md_path, root / "requirements.lock", root / "tools" / "execute.py"]
    files += package_files(md_path, root)
    for f in files:
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def up_to_date(name, out_dir, new_stamp, status):
    entry = status.get(name, {})
    return (
        (out_dir / f"{name}.ipynb").exists()
        and entry.get("status") == "ok"
        and entry.get("stamp") == new_stamp
        and not over_budget(entry)  # a run over budget fails again until it fits
    )


def run_one(md_path, out_dir, mode):
    """Execute one notebook; return its status entry."""
    threads = threads_of(md_path, mode)
    os.environ.update(dict.fromkeys(THREAD_VARS, str(threads)))  # the kernel inherits them
    print(f"[{mode}] {md_path.stem}: running ({threads} thread{'s' if threads > 1 else ''}) ...", flush=True)
    import jupytext
    import papermill
    from papermill.exceptions import PapermillExecutionError

    nb = jupytext.read(md_path)
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3 (tensordl)", "language": "python"}
    out = out_dir / f"{md_path.stem}.ipynb"
    t0 = time.perf_counter()
    entry = {"mode": mode, "notebook": md_path.stem, "threads": threads}
    try:
        papermill.execute_notebook(
            nb,
            str(out),
            parameters={"quick": mode == "quick"},
            kernel_name=KERNEL,
            cwd=str(NOTEBOOKS),
            progress_bar=False,
            start_timeout=KERNEL_START_TIMEOUT_S,
        )
        entry["status"] = "ok"
    except PapermillExecutionError as err:
        entry.update(status="failed", cell=err.exec_count, error=f"{err.ename}: {err.evalue}")
        print(
            f"FAILED notebooks/{md_path.name} at cell [{err.exec_count}] "
            f"(cell #{err.cell_index}): {err.ename}: {err.evalue}\n--- failing cell ---\n{err.source}\n---",
            file=sys.stderr,
        )
    except Exception as err:  # kernel died, bad notebook, ...
        entry.update(status="failed", cell=None, error=f"{type(err).__name__}: {err}")
        print(f"FAILED notebooks/{md_path.name}: {type(err).__name__}: {err}", file=sys.stderr)
    entry["seconds"] = round(time.perf_counter() - t0, 1)
    entry["finished"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    entry["machine"] = machine()
    return entry


def cpu_model():
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine():
    """The machine a run was timed on, in words: CPU model, cores, memory, Python."""
    model = cpu_model()
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        memory = f", {mem:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        memory = ""
    return f"{model}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=sorted(BUDGET_S), required=True)
    parser.add_argument("--out", type=Path, default=None, help="default: _build/executed/MODE")
    parser.add_argument("--force", action="store_true", help="run even when up to date")
    parser.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="notebooks run at once"
    )
    parser.add_argument(
        "--warn-budget", action="store_true", help="warn about, rather than fail, a run over budget"
    )
    parser.add_argument("names", nargs="*", help="notebook stems (default: all)")
    args = parser.parse_args(argv)

    out_dir = args.out or ROOT / "_build" / "executed" / args.mode
    out_dir.mkdir(parents=True, exist_ok=True)
    status_file = out_dir / "status.json"
    status = json.loads(status_file.read_text()) if status_file.exists() else {}
    sources = sorted(NOTEBOOKS.glob("*.md"))
    if args.names:  # stems, or paths such as notebooks/NAME.md
        args.names = [Path(n).stem for n in args.names]
        unknown = set(args.names) - {p.stem for p in sources}
        if unknown:
            parser.error(f"no such notebook(s) in notebooks/: {sorted(unknown)}")
        sources = [p for p in sources if p.stem in args.names]
    if not sources:
        parser.error("no notebooks found in notebooks/")
    if args.jobs < 1:
        parser.error(f"--jobs must be a positive integer, got {args.jobs}")

    todo = []
    for md in sources:
        new_stamp = stamp(md, args.mode)
        if not args.force and up_to_date(md.stem, out_dir, new_stamp, status):
            print(f"[{args.mode}] {md.stem}: up to date ({status[md.stem]['seconds']} s last run)")
        else:
            todo.append((md, new_stamp))
    failed, over = [], []
    for md, entry in run_all(todo, out_dir, args.mode, args.jobs, status):
        status[md.stem] = entry
        status_file.write_text(json.dumps(status, indent=2, sort_keys=True))
        print(f"[{args.mode}] {md.stem}: {entry['status']} in {entry['seconds']} s", flush=True)
        if entry["status"] != "ok":
            failed.append(md.stem)
        elif over_budget(entry):
            over.append(f"{md.stem} ({entry['seconds']} s)")
    if over:
        print(
            f"{'WARNING' if args.warn_budget else 'FAILED'}: over the {args.mode} budget of "
            f"{BUDGET_S[args.mode]} s per notebook: {', '.join(over)}",
            file=sys.stderr,
        )
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed or (over and not args.warn_budget) else 0


def over_budget(entry):
    """Whether a status entry's run took longer than its mode's budget."""
    return entry.get("seconds", 0) > BUDGET_S.get(entry.get("mode"), float("inf"))


def longest_first(todo, status):
    """The notebooks to run, those that took longest last time first (unknown ones first
    of all), so that two workers finish close together."""
    return sorted(todo, key=lambda t: -status.get(t[0].stem, {}).get("seconds", float("inf")))


def run_all(todo, out_dir, mode, jobs, status):
    """Run ``todo`` ((path, stamp) pairs), ``jobs`` at a time; yield (path, entry) as each ends."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    def finish(md, new_stamp, entry, together):
        entry["stamp"] = new_stamp
        entry["budget_s"] = BUDGET_S[mode]
        entry["jobs"] = together  # notebooks running at once while this one ran
        return md, entry

    todo = longest_first(todo, status)
    alone = [t for t in todo if threads_of(t[0], mode) > 1]  # they use the whole machine
    shared = [t for t in todo if t not in alone]
    for md, new_stamp in alone + (shared if jobs == 1 or len(shared) <= 1 else []):
        yield finish(md, new_stamp, run_one(md, out_dir, mode), 1)
    if jobs == 1 or len(shared) <= 1:
        return
    todo = shared
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {}
        for md, new_stamp in todo:
            futures[pool.submit(run_one, md, out_dir, mode)] = (md, new_stamp)
        for fut in as_completed(futures):
            md, new_stamp = futures[fut]
            yield finish(md, new_stamp, fut.result(), jobs)


if __name__ == "__main__":
    sys.exit(main())
