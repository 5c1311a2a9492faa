"""Correlations with intervals: Fisher's z, resampled z, and the Spearman-Brown formula.

Chapter 8 compares the train/test correlation of many trained networks with the values
of Choromanska et al.'s Table 1; these are the statistics it builds its intervals from,
kept here so that they are tested once (``tests/test_stats.py``: coverage by simulation,
closed forms, the resampled z against ``numpy.corrcoef``). Used by
``notebooks/08_network_minima.md``.
"""

import numpy as np
import scipy.stats

from ._checks import as_float

__all__ = ["fisher_z", "fisher_interval", "bootstrap_fisher_z", "spearman_brown"]


def _pair(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be 1-D arrays of the same length, got shapes {a.shape} and {b.shape}")
    if len(a) < 4:
        raise ValueError(f"a and b need at least 4 pairs (the SE is 1 / sqrt(n - 3)), got {len(a)}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("a and b must contain only finite values")
    return a, b


def fisher_z(a, b):
    """Fisher's ``z = artanh r`` of the Pearson correlation of ``a`` and ``b``, and its SE.

    For a bivariate normal sample of size ``n``, ``z`` is close to normal with standard
    error ``1 / sqrt(n - 3)`` whatever the correlation.

    Returns
    -------
    z, se : float

    Examples
    --------
    >>> z, se = fisher_z([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 3.0, 2.0, 5.0, 4.0])
    >>> round(float(np.tanh(z)), 3), round(se, 4)
    (0.8, 0.7071)
    """
    a, b = _pair(a, b)
    return float(np.arctanh(scipy.stats.pearsonr(a, b)[0])), float(1 / np.sqrt(len(a) - 3))


def fisher_interval(z, se, crit=1.96):
    """The interval ``tanh(z -+ crit se)`` for a correlation, from its Fisher ``z`` and SE.

    ``crit = 1.96``: the two-sided 95% normal quantile as the book writes it.

    Examples
    --------
    >>> lo, hi = fisher_interval(0.0, 0.1)
    >>> round(lo, 4), round(hi, 4)
    (-0.1935, 0.1935)
    """
    z = as_float(z, "z")
    se = as_float(se, "se", minimum=0)
    crit = as_float(crit, "crit", minimum=0, strict=True)
    return float(np.tanh(z - crit * se)), float(np.tanh(z + crit * se))


def bootstrap_fisher_z(a, b, idx):
    """Fisher ``z`` of every resample: the pairs ``(a[i], b[i])`` for ``i`` in each row of ``idx``.

    Parameters
    ----------
    a, b : ndarray of shape (n,)
    idx : ndarray of int, shape (..., m)
        Indices into ``a`` and ``b``, one resample per row (e.g. drawn with replacement).

    Returns
    -------
    ndarray of shape idx.shape[:-1]

    Examples
    --------
    >>> a, b = np.arange(6.0), np.array([0.0, 2.0, 1.0, 3.0, 5.0, 4.0])
    >>> z = bootstrap_fisher_z(a, b, np.array([[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0]]))
    >>> bool(np.allclose(z, fisher_z(a, b)[0]))
    True
    """
    a, b = _pair(a, b)
    idx = np.asarray(idx)
    if not np.issubdtype(idx.dtype, np.integer) or idx.ndim < 1:
        raise TypeError(f"idx must be an integer array of resampled indices, got {idx.dtype} of shape {idx.shape}")
    if idx.size and (idx.min() < -len(a) or idx.max() >= len(a)):
        raise ValueError(f"idx must index the {len(a)} pairs")
    x, y = a[idx], b[idx]
    x, y = x - x.mean(-1, keepdims=True), y - y.mean(-1, keepdims=True)
    r = (x * y).sum(-1) / np.sqrt((x * x).sum(-1) * (y * y).sum(-1))
    return np.arctanh(r)


def spearman_brown(r, k=2):
    """The reliability of a test ``k`` times as long from that of one part: ``k r / (1 + (k - 1) r)``.

    With ``k = 2``, the whole set's reliability from the correlation of two halves.

    Examples
    --------
    >>> float(spearman_brown(0.5))
    0.6666666666666666
    >>> float(spearman_brown(0.5, k=1))
    0.5
    """
    k = as_float(k, "k", minimum=0, strict=True)
    r = np.asarray(r, dtype=float)
    return k * r / (1 + (k - 1) * r)
