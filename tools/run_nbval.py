"""Re-execute the quick notebooks under nbval, each with the threads it was executed with.

    python tools/run_nbval.py [--jobs 2] [_build/executed/quick]

nbval re-runs a notebook and compares its ``# NBVAL_CHECK_OUTPUT`` cells with the
executed copy, so the second run must see what the first saw: the kernel's thread
counts come from ``execute.threads_of`` as in ``tools/execute.py`` (one thread, or what
the notebook's front matter asks for), notebooks asking for more threads run alone
first, the others ``--jobs`` at a time, one pytest each. Exits non-zero when any fails.

A kernel that does not start is not a result: nbval waits ``execute.KERNEL_START_TIMEOUT_S`` for
it (its default, 60 s, ran out on a busy CI machine, where two kernels started at once can
also race for the same ports), and a notebook whose kernel did not start is run once
more, saying so. Any other failure is reported as it is.
"""

import argparse
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import execute

ROOT = Path(__file__).resolve().parents[1]
# what nbval prints when the kernel never answered (jupyter_client's wait_for_ready, nbval's IOPub check)
NO_KERNEL = ("Kernel didn't respond in", "Wasn't able to establish IOPub", "Kernel died before replying")


def kernel_did_not_start(code, out):
    """Whether a failed nbval run failed because its kernel never started (nothing was compared)."""
    return code != 0 and any(marker in out for marker in NO_KERNEL) and " passed" not in out


def nbval_one(ipynb):
    """Run nbval on one executed notebook with its thread counts; return (name, exit code, output)."""
    threads = execute.threads_of(ROOT / "notebooks" / f"{ipynb.stem}.md", "quick")
    env = {**os.environ, **dict.fromkeys(execute.THREAD_VARS, str(threads))}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
           f"--nbval-kernel-startup-timeout={execute.KERNEL_START_TIMEOUT_S}", str(ipynb)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    code, out = proc.returncode, proc.stdout + proc.stderr
    if kernel_did_not_start(code, out):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
        out = (f"{out.strip()}\n(the kernel did not start; run once more)\n"
               f"{proc.stdout + proc.stderr}")
        code = proc.returncode
    return ipynb.stem, code, out


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
