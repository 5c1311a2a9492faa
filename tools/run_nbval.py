"""Re-execute the quick notebooks under nbval, each with the threads it was executed with.

    python tools/run_nbval.py [--jobs 2] [_build/executed/quick]

nbval re-runs a notebook and compares its ``# NBVAL_CHECK_OUTPUT`` cells with the
executed copy, so the second run must see what the first saw: the kernel's thread
counts come from ``execute.threads_of`` as in ``tools/execute.py`` (one thread, or what
the notebook's front matter asks for), notebooks asking for more threads run alone
first, the others ``--jobs`` at a time, one pytest each. Exits non-zero when any fails.
"""

import argparse
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import execute

ROOT = Path(__file__).resolve().parents[1]


def nbval_one(ipynb):
    """Run nbval on one executed notebook with its thread counts; return (name, exit code, output)."""
    threads = execute.threads_of(ROOT / "notebooks" / f"{ipynb.stem}.md", "quick")
    env = {**os.environ, **dict.fromkeys(execute.THREAD_VARS, str(threads))}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
           str(ipynb)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    return ipynb.stem, proc.returncode, proc.stdout + proc.stderr


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("executed", nargs="?", type=Path, default=ROOT / "_build" / "executed" / "quick")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    books = sorted(args.executed.glob("*.ipynb"))
    if not books:
        parser.error(f"no executed notebooks in {args.executed}")
    alone = [b for b in books if execute.threads_of(ROOT / "notebooks" / f"{b.stem}.md", "quick") > 1]
    results = [nbval_one(b) for b in alone]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results += list(pool.map(nbval_one, [b for b in books if b not in alone]))
    failed = []
    for name, code, out in results:
        print(f"--- nbval {name}: {'passed' if code == 0 else 'FAILED'}\n{out.strip()}", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"nbval failed for: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
