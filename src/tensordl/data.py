"""Data sets that ship with installed packages, and generators of planted instances.

Nothing here downloads anything: ``digits`` reads scikit-learn's bundled 8x8
digits, and the generators draw from the ``seed`` they are given. Tests and
notebooks build their instances here so that both use one oracle.
Used by ``notebooks/01_networks_as_polynomials.md``.
"""

import numpy as np

from ._checks import as_int

__all__ = ["rng", "random_network", "random_inputs", "digits"]


def rng(seed):
    """A ``numpy.random.Generator`` from an int seed or an existing Generator.

    Examples
    --------
    >>> int(rng(0).integers(10)) == int(rng(0).integers(10))
    True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or a numpy.random.Generator, got {type(seed).__name__}")
    return np.random.default_rng(int(seed))


def random_network(widths, seed, biases=False, bias_scale=0.1):
    """Gaussian weights with He scaling, ``W_k ~ N(0, 2 / width[k])``.

    Parameters
    ----------
    widths : sequence of int
        Layer widths ``(width[0], ..., width[d])``.
    seed : int or numpy.random.Generator
    biases : bool, default=False
        Also draw biases ``b_k ~ N(0, bias_scale^2)``.
    bias_scale : float, default=0.1

    Returns
    -------
    list of ndarray, or (list of ndarray, list of ndarray) when ``biases``
        Weight ``k`` has shape ``(width[k+1], width[k])``.

    Examples
    --------
    >>> [W.shape for W in random_network([3, 4, 1], seed=0)]
    [(4, 3), (1, 4)]
    """
    if len(widths) < 2:
        raise ValueError(f"widths must name at least two layers, got {widths!r}")
    widths = [as_int(w, f"widths[{k}]", minimum=1) for k, w in enumerate(widths)]
    g = rng(seed)
    weights = [g.normal(0.0, np.sqrt(2.0 / a), size=(b, a)) for a, b in zip(widths[:-1], widths[1:])]
    if not biases:
        return weights
    return weights, [g.normal(0.0, bias_scale, size=b) for b in widths[1:]]


def random_inputs(n, d, seed):
    """``n`` standard Gaussian inputs in dimension ``d``, as rows.

    Examples
    --------
    >>> random_inputs(5, 3, seed=1).shape
    (5, 3)
    """
    n = as_int(n, "n", minimum=1)
    d = as_int(d, "d", minimum=1)
    return rng(seed).standard_normal((n, d))


def digits():
    """scikit-learn's 8x8 handwritten digits, pixel values scaled to [0, 1].

    Returns
    -------
    X : ndarray of shape (1797, 64)
    y : ndarray of shape (1797,)

    Examples
    --------
    >>> X, y = digits()
    >>> X.shape, float(X.max())
    ((1797, 64), 1.0)
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.data / 16.0, bunch.target
