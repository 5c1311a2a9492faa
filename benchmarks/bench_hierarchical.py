"""Hierarchical Tucker tensors and convolutional arithmetic circuits (chapter 5).

    .venv/bin/python benchmarks/bench_hierarchical.py

1. Building a random HT tensor with N = 8, M = 8 (8^8 entries) and ranks r = 4:
   ``ht_tensor`` (per node, a compiled loop that writes each entry once)
   against the same recursion written as nested ``np.einsum`` calls on the
   index tensors (``"...a,...a,ag->...g"`` style, numpy's own loops), and
   against one ``np.einsum`` over all leaves and transfers with
   ``optimize=True`` (numpy's contraction-order search).
2. The rank of its odd/even matricization (a 4096 x 4096 matrix, rank 256):
   ``matricization_rank`` (Gaussian sketch, doubling) against
   ``np.linalg.matrix_rank`` (a full SVD).
3. ``DeepConvAC`` on a batch of 256 inputs against contracting the dense 8^8
   tensor with each input's features.

Writes ``results/hierarchical.json``, rendered by the book's Performance page.
"""

import string
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median_time, write  # noqa: E402

from tensordl import convac, hierarchical  # noqa: E402

N, M, R, B = 8, 8, 4, 256


def nested_einsum(leaves, transfers):
    """The slide's recursion with one einsum per node, on the index tensors."""
    nodes = list(leaves)  # shape (M, ..., M, r)
    letters = string.ascii_lowercase
    for A in transfers:
        nxt = []
        for j in range(len(nodes) // 2):
            left, right = nodes[2 * j], nodes[2 * j + 1]
            p = left.ndim - 1
            li, ri = letters[:p], letters[p : 2 * p]
            nxt.append(np.einsum(f"{li}y,{ri}y,yz->{li}{ri}z", left, right, A[j]))
        nodes = nxt
    return nodes[0][..., 0]


def one_einsum(leaves, transfers):
    """All leaves and transfers in a single einsum, contraction order chosen by numpy.

    Node ``(l, j)`` sums one index shared by its two children: the leaves' rank
    letter, or the output letter of the children's transfers.
    """
    letters = iter(string.ascii_letters)
    modes = "".join(next(letters) for _ in range(N))
    shared = {}  # (level, node) -> the letter its two children share
    level, n_nodes = 1, N // 2
    while n_nodes >= 1:
        for j in range(n_nodes):
            shared[(level, j)] = next(letters)
        level, n_nodes = level + 1, n_nodes // 2
    out = next(letters)
    specs = [modes[j] + shared[(1, j // 2)] for j in range(N)]
    operands = list(leaves)
    for lv, A in enumerate(transfers, start=1):
        for j in range(A.shape[0]):
            parent = shared.get((lv + 1, j // 2), out)
            specs.append(shared[(lv, j)] + parent)
            operands.append(A[j])
    return np.einsum(",".join(specs) + "->" + modes + out, *operands, optimize=True)[..., 0]


def main():
    A, leaves, transfers = hierarchical.random_ht(N, M, R, seed=0, return_factors=True)
    cases, targets = [], []

    build = {
        "ours": lambda: hierarchical.ht_tensor(leaves, transfers),
        "nested": lambda: nested_einsum(leaves, transfers),
        "one": lambda: one_einsum(leaves, transfers),
    }
    for f in build.values():  # warm up all three first: the first large allocations of a process pay page faults
        f()
    t_ours, t_nested, t_one = (median_time(build[k], 5) for k in ("ours", "nested", "one"))
    err_nested = np.abs(nested_einsum(leaves, transfers) - A).max() / np.abs(A).max()
    err_one = np.abs(one_einsum(leaves, transfers) - A).max() / np.abs(A).max()
    cases.append({"case": f"build an HT tensor, N = {N}, M = {M}, r = {R} ({M**N} entries; nested einsum differs "
                          f"by {err_nested:.1e}, one einsum by {err_one:.1e} relative)",
                  "rows": [
                      {"method": "ht_tensor: compiled fused loop per node (ours)", "median_s": t_ours},
                      {"method": "nested np.einsum per node", "median_s": t_nested},
                      {"method": "one np.einsum, optimize=True", "median_s": t_one},
                  ]})
    targets.append({"what": "build: nested einsum / ours", "ratio": t_nested / t_ours, "min": 5})

    odd = list(range(0, N, 2))
    mat = np.transpose(A, odd + list(range(1, N, 2))).reshape(M ** (N // 2), -1)
    rank_ours = hierarchical.matricization_rank(A, odd)
    t_rank = median_time(lambda: hierarchical.matricization_rank(A, odd), 3)
    t_svd = median_time(lambda: np.linalg.matrix_rank(mat), 1)
    rank_svd = int(np.linalg.matrix_rank(mat))
    cases.append({"case": f"rank of the odd/even matricization, {mat.shape[0]} x {mat.shape[1]} (ours {rank_ours}, "
                          f"SVD {rank_svd}, r^(N/2) = {R ** (N // 2)})",
                  "rows": [
                      {"method": "matricization_rank, Gaussian sketch (ours)", "median_s": t_rank},
                      {"method": "np.linalg.matrix_rank (full SVD)", "median_s": t_svd},
                  ]})
    targets.append({"what": "rank: full SVD / ours (no target)", "ratio": t_svd / t_rank, "min": None})

    net = convac.DeepConvAC(N, M, [R] * 3, seed=0)
    dense = net.tensor()
    Phi = torch.randn(B, N, M, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        t_net = median_time(lambda: net(Phi), 5)
        err = np.abs(net(Phi).numpy() - convac.contract(dense, Phi.numpy())).max()
    t_dense = median_time(lambda: convac.contract(dense, Phi.numpy()), 1)
    cases.append({"case": f"DeepConvAC on {B} inputs, N = {N}, M = {M}, ranks {R} (max difference {err:.1e})",
                  "rows": [
                      {"method": "DeepConvAC.forward (torch, ours)", "median_s": t_net},
                      {"method": "contract the dense 8^8 tensor with each input", "median_s": t_dense},
                  ]})
    targets.append({"what": "evaluate: dense contraction / DeepConvAC (no target)", "ratio": t_dense / t_net,
                    "min": None})
    write("hierarchical", "Hierarchical Tucker tensors and arithmetic circuits (chapter 5)",
          "benchmarks/bench_hierarchical.py", "3 to 5 (1 for the SVD and the dense contraction)", cases, targets)


if __name__ == "__main__":
    main()
