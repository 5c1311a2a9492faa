"""One batched gradient step of the spherical 3-spin glass (Lambda = 250, 64 restarts).

    .venv/bin/python benchmarks/bench_spinglass.py

Ours (``SphericalSpinGlass.grad``: the 64 restarts as the rows of one product
with the symmetrised coupling tensor, summing only the pairs j <= k of
``w_j w_k``) against a Python loop of ``np.einsum`` per restart, and against a
bare GEMM ``(w (x) w) J^T`` over all pairs (the limit without the symmetry: ours
does half its flops). Writes ``results/spinglass.json``.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median_time, write  # noqa: E402

from tensordl import spinglass  # noqa: E402

N, H, B = 250, 3, 64


def main():
    glass = spinglass.SphericalSpinGlass(N, H, seed=0)
    g = np.random.default_rng(1)
    W = g.standard_normal((B, N))
    W *= np.sqrt(N) / np.linalg.norm(W, axis=1, keepdims=True)
    scale = N ** (-(H - 1) / 2)

    def loop():
        out = np.empty((B, N))
        for b in range(B):
            e = H * scale * np.einsum("ijk,j,k->i", glass.J, W[b], W[b])
            out[b] = e - (e @ W[b] / N) * W[b]
        return out

    assert np.allclose(loop(), glass.grad(W), rtol=1e-10, atol=1e-10)
    P = (W[:, :, None] * W[:, None, :]).reshape(B, -1)
    J = glass._Jmat
    t_ours = median_time(lambda: glass.grad(W), 7)
    t_loop = median_time(loop, 3)
    t_gemm = median_time(lambda: P @ J.T, 7)
    write("spinglass", "Spherical spin glass: one batched gradient step (chapter 6)", "benchmarks/bench_spinglass.py",
          "3 to 7", [{"case": f"gradient of L for {B} restarts, Lambda = {N}, H = {H}", "rows": [
              {"method": "SphericalSpinGlass.grad, restarts batched (ours)", "median_s": t_ours},
              {"method": "loop of np.einsum per restart", "median_s": t_loop},
              {"method": "bare GEMM (B x n^2) @ (n^2 x n) over all pairs", "median_s": t_gemm},
          ]}],
          [{"what": "loop / ours", "ratio": t_loop / t_ours, "min": 30},
           {"what": "within 1.5x of the GEMM (GEMM / ours, must be >= 0.67)", "ratio": t_gemm / t_ours, "min": 0.67}])


if __name__ == "__main__":
    main()
