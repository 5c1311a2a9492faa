"""Nuclear-norm problems at 2000 x 2000, rank 20: partial SVDs against a full SVD per step.

    .venv/bin/python benchmarks/bench_factorization.py

Three comparisons on one planted problem (rank 20 plus unit Gaussian noise,
lambda 1.2 times the noise's top singular value), each at equal accuracy (the
largest difference of the results is recorded next to the times):

1. ``solve_convex`` (singular value thresholding) with the leading singular
   triplets only (``rank_hint``) against a full ``numpy.linalg.svd``;
2. ten accelerated proximal-gradient iterations of matrix completion (half the
   entries, lambda 3 times the noise level), one thresholding per iteration,
   partial against full SVD;
3. the certificate's operator norm of the residual of ``solve_factorized``:
   Lanczos (``polar``) against a full SVD. At an optimum the residual's top
   singular values form a cluster at lambda (one per active column), the hard
   case for Krylov methods, so no 10x is expected here.

Writes ``results/factorization.json``, rendered by the book's Performance page.
"""

import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median_time, write  # noqa: E402

from tensordl import certificates, factorization  # noqa: E402

M = N = 2000
RANK = 20


def main():
    g = np.random.default_rng(0)
    Y = g.normal(size=(M, RANK)) @ g.normal(size=(RANK, N)) + g.normal(size=(M, N))
    lam = 1.2 * (np.sqrt(M) + np.sqrt(N))
    mask = g.random(Y.shape) < 0.5
    lam_mc = 3.0 * (np.sqrt(M) + np.sqrt(N))  # well above the top singular value of the masked noise (~2.5x)
    cases, targets = [], []

    # 1. the lifted problem in closed form
    part = median_time(lambda: factorization.solve_convex(Y, lam, rank_hint=RANK), 3)
    full = median_time(lambda: factorization.solve_convex(Y, lam), 3)
    diff = np.abs(factorization.solve_convex(Y, lam, rank_hint=RANK) - factorization.solve_convex(Y, lam)).max()
    cases.append({"case": f"solve_convex, {M}x{N}, rank {RANK} (max |difference| {diff:.1e})", "rows": [
        {"method": "partial SVD (subspace iteration, rank_hint=20)", "median_s": part},
        {"method": "full SVD (numpy)", "median_s": full},
    ]})
    targets.append({"what": "solve_convex: full SVD / ours", "ratio": full / part, "min": 10})

    # 2. matrix completion, ten APG iterations
    def apg(hint):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", factorization.ConvergenceWarning)
            return factorization.solve_convex(Y, lam_mc, mask=mask, method="apg", max_iter=10, rank_hint=hint)

    t0 = time.perf_counter()
    X_part = apg(RANK)
    part = time.perf_counter() - t0
    t0 = time.perf_counter()
    X_full = apg(None)
    full = time.perf_counter() - t0
    diff = np.abs(X_part - X_full).max() / np.abs(X_full).max()
    cases.append({"case": f"matrix completion, 10 APG iterations (relative max difference {diff:.1e})", "rows": [
        {"method": "partial SVD per iteration", "median_s": part},
        {"method": "full SVD per iteration (numpy)", "median_s": full},
    ]})
    targets.append({"what": "APG iteration: full SVD / ours", "ratio": full / part, "min": 10})

    # 3. the factorized problem and its certificate
    t0 = time.perf_counter()
    U, V = factorization.solve_factorized(Y, lam, r=RANK + 5, seed=0, tol=1e-12)
    t_fact = time.perf_counter() - t0
    R = Y - U @ V.T
    part = median_time(lambda: certificates.polar(R), 3)
    full = median_time(lambda: np.linalg.norm(R, 2), 3)
    diff = abs(certificates.polar(R) - np.linalg.norm(R, 2)) / np.linalg.norm(R, 2)
    cases.append({"case": f"certificate of solve_factorized (r = 25, {t_fact:.2f} s to converge; "
                          f"relative difference of the operator norms {diff:.1e})", "rows": [
        {"method": "operator norm by Lanczos (polar)", "median_s": part},
        {"method": "operator norm by full SVD (numpy)", "median_s": full},
    ]})
    # no 10x target here: at the optimum the residual's top singular values are a cluster at lam
    targets.append({"what": "certificate's operator norm: full SVD / ours", "ratio": full / part, "min": 1})

    write("factorization", "Nuclear-norm problems (chapters 2 and 3)", "benchmarks/bench_factorization.py",
          "3 (1 for the APG runs)", cases, targets)


if __name__ == "__main__":
    main()
