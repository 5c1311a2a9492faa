"""Input validation and the convergence warning shared by the public functions of :mod:`tensordl`.

Every public function converts and checks its arguments here, so that bad input
fails early with a ``ValueError`` or ``TypeError`` that names the argument and
says what was expected.
"""

import numbers
import warnings

import numpy as np

__all__ = [
    "ConvergenceWarning",
    "warn_not_converged",
    "as_lam",
    "as_mask",
    "check_factors",
    "as_matrix",
    "as_samples",
    "as_choice",
    "as_int",
    "as_power_of_two",
    "as_float",
    "as_weights",
]


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at its iteration budget before its tolerance.

    Defined here so that every solver module warns with the same class without
    importing another solver module; :mod:`tensordl.factorization` re-exports it.
    """


def warn_not_converged(message, stacklevel=2):
    """Warn of non-convergence: a ``ConvergenceWarning`` attributed to the frame ``stacklevel`` above the caller.

    The one way the package reports an iterative solver that stopped early; the
    result also carries a flag (``converged`` or ``certified``). Called from a public
    function with the default, the warning points at that function's caller.
    """
    warnings.warn(message, ConvergenceWarning, stacklevel=stacklevel + 1)


def as_matrix(a, name, n_cols=None):
    """Return ``a`` as a C-contiguous finite float64 matrix, or raise.

    Examples
    --------
    >>> as_matrix([[1, 2]], "X").dtype
    dtype('float64')
    """
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array, got {type(a).__name__}") from exc
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {arr.shape}")
    if n_cols is not None and arr.shape[1] != n_cols:
        raise ValueError(f"{name} must have {n_cols} columns, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values")
    return np.ascontiguousarray(arr)


def as_samples(X, y):
    """Samples as rows ``X`` of shape ``(n, d)`` and labels ``y`` of shape ``(n,)``, finite, or raise.

    Examples
    --------
    >>> X, y = as_samples([[1.0, 2.0]], [3.0])
    >>> X.shape, y.shape
    ((1, 2), (1,))
    """
    X = as_matrix(X, "X")
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X (n samples), got {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y must contain only finite values")
    return X, y


def as_choice(value, name, choices):
    """Return ``value`` if it is one of ``choices``, or raise ``ValueError``.

    Examples
    --------
    >>> as_choice("relu", "activation", ("relu", "linear"))
    'relu'
    """
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def as_int(value, name, minimum=None):
    """Return ``value`` as a Python int no smaller than ``minimum``, or raise.

    Examples
    --------
    >>> as_int(3, "width", minimum=1)
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def as_power_of_two(value, name):
    """Return ``value`` as a Python int that is a power of two ``>= 2`` (the leaves of a binary tree), or raise.

    Examples
    --------
    >>> as_power_of_two(np.int64(8), "N")
    8
    >>> as_power_of_two(6, "N")
    Traceback (most recent call last):
    ...
    ValueError: N must be a power of two >= 2 for the binary tree, got 6
    """
    value = as_int(value, name)
    if value < 2 or value & (value - 1):
        raise ValueError(f"{name} must be a power of two >= 2 for the binary tree, got {value}")
    return value


def as_float(value, name, minimum=None, strict=False):
    """Return ``value`` as a finite Python float, ``>= minimum`` (``> minimum`` if ``strict``), or raise.

    Any real number is accepted (Python or numpy, integer or floating); ``bool``
    and non-numbers raise ``TypeError``, non-finite or out-of-range values
    ``ValueError``, each naming the argument.

    Examples
    --------
    >>> as_float(np.int64(2), "q", minimum=1)
    2.0
    >>> as_float(0.0, "lr", minimum=0, strict=True)
    Traceback (most recent call last):
    ...
    ValueError: lr must be a finite number > 0, got 0.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    bound = "" if minimum is None else f" {'>' if strict else '>='} {minimum:g}"
    ok = np.isfinite(value) and (
        minimum is None or (value > minimum if strict else value >= minimum)
    )
    if not ok:
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return value

def as_weights(weights, name="weights"):
    """Check a list of weight matrices that chain layer k to layer k+1.

    Weight ``k`` has shape ``(width[k+1], width[k])``. Returns the list of
    float64 matrices and the widths as a tuple of ints.

    Examples
    --------
    >>> ws, widths = as_weights([np.ones((3, 2)), np.ones((1, 3))])
    >>> widths
    (2, 3, 1)
    """
    if isinstance(weights, np.ndarray) or not hasattr(weights, "__len__"):
        raise TypeError(f"{name} must be a list of 2-D arrays, got {type(weights).__name__}")
    if len(weights) == 0:
        raise ValueError(f"{name} must hold at least one weight matrix")
    mats = [as_matrix(w, f"{name}[{k}]") for k, w in enumerate(weights)]
    for k in range(1, len(mats)):
        if mats[k].shape[1] != mats[k - 1].shape[0]:
            raise ValueError(
                f"{name}[{k}] has shape {mats[k].shape} but {name}[{k - 1}] has "
                f"{mats[k - 1].shape[0]} rows: weight k must have shape (width[k+1], width[k])"
            )
    widths = (mats[0].shape[1],) + tuple(m.shape[0] for m in mats)
    return mats, widths


def as_lam(lam):
    """A regularisation weight: a finite real ``lam >= 0``."""
    return as_float(lam, "lam", minimum=0)


def as_mask(mask, shape):
    """``None`` (every entry observed) or a boolean array of ``shape``."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != shape or mask.dtype != bool:
        raise ValueError(f"mask must be a boolean array of shape {shape}, got {mask.dtype} {mask.shape}")
    return mask


def check_factors(Y, U, V):
    """``Y``, ``U``, ``V`` as float matrices with ``U V^T`` of ``Y``'s shape."""
    Y = as_matrix(Y, "Y")
    U = as_matrix(U, "U")
    V = as_matrix(V, "V")
    if U.shape[0] != Y.shape[0] or V.shape[0] != Y.shape[1] or U.shape[1] != V.shape[1]:
        raise ValueError(
            f"U and V must have shapes ({Y.shape[0]}, r) and ({Y.shape[1]}, r) for Y of shape {Y.shape}, "
            f"got {U.shape} and {V.shape}"
        )
    return Y, U, V
