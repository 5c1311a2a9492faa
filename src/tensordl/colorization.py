"""Colourisation as classification over quantised ab bins (Zhang, Isola & Efros, 2016).

Slides: the objective slide's first presentation, Richard Zhang, "Colorful Image
Colorization" (ECCV 2016). Used by ``notebooks/09_colorization.md``.

The objects of the paper, at a size that trains on two CPU cores:

- the quantised ab plane of CIE Lab: grid points of step 10 and the "in-gamut" bins
  (:func:`srgb_ab_hull`, :func:`in_gamut_bins`; the paper does not define in-gamut,
  the definitions offered here are our reconstructions);
- the soft encoding of a colour onto its nearest bins (:func:`soft_encode`), the
  empirical bin distribution and the class-rebalancing weights
  (:func:`empirical_prior`, :func:`rebalancing_weights`);
- decoding a predicted distribution by the annealed mean (:func:`annealed_mean`);
- the evaluation: chroma, local variation, the AuC of per-pixel accuracy over
  thresholds 0 to 150 and its class-balanced variant (:func:`chroma`,
  :func:`local_variation`, :func:`auc_accuracy`);
- the data: colour photographs bundled with scikit-image and scikit-learn, in Lab
  (:func:`load_photos`, :func:`photo_lab`, :func:`extract_patches`);
- a small fully convolutional network trained three ways on the same patches
  (:class:`ColorNet`, :func:`train_colorizer`, :func:`predict`): ``"regression"``
  (Euclidean loss on ab), ``"classification"`` (multinomial cross-entropy on the
  soft-encoded target) and ``"rebalanced"`` (the same, each pixel weighted by the
  rebalancing weight of its true colour's bin).

Colours are rows: ``ab`` has shape ``(n, 2)``, bin centres ``(Q, 2)``, distributions
over bins ``(n, Q)``. Training runs on one torch thread, so that its numbers do not
depend on the machine's thread count.
"""

import numbers
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ._checks import as_choice, as_float, as_int

__all__ = [
    "GRID_STEP",
    "PHOTOS",
    "GAMUT_DEFINITIONS",
    "ab_grid",
    "srgb_ab_hull",
    "in_gamut_bins",
    "nearest_bin",
    "soft_encode",
    "empirical_prior",
    "rebalancing_weights",
    "annealed_mean",
    "chroma",
    "hue_agreement",
    "local_variation",
    "auc_accuracy",
    "load_photos",
    "photo_lab",
    "extract_patches",
    "ColorNet",
    "ColorRun",
    "train_colorizer",
    "predict",
    "upsample",
    "pooled_oracle",
    "lab_to_rgb",
]

GRID_STEP = 10.0
#: the colour photographs that ship with scikit-image 0.26 and scikit-learn (no download)
PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "motorcycle_left",
    "motorcycle_right",
    "china",
    "flower",
)
GAMUT_DEFINITIONS = ("inside", "hit", "euclidean", "chebyshev")
MODES = ("regression", "classification", "rebalanced")


def _ab(ab, name="ab"):
    try:
        arr = np.asarray(ab, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array, got {type(ab).__name__}") from exc
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape (n, 2), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values")
    return arr


def _probs(p, name, q=None):
    try:
        arr = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array, got {type(p).__name__}") from exc
    if arr.ndim != 2 or (q is not None and arr.shape[1] != q):
        want = "(n, Q)" if q is None else f"(n, {q})"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must contain finite, non-negative values")
    return arr


def ab_grid(step=GRID_STEP, extent=110.0):
    """All grid points ``(a, b)`` with coordinates in ``step * Z`` and ``|a|, |b| <= extent``.

    Parameters
    ----------
    step : float, default=10
        Grid spacing in Lab units.
    extent : float, default=110
        Half-width of the square covered (the sRGB gamut lies inside ``[-110, 110]^2``).

    Returns
    -------
    ndarray of shape (m * m, 2)
        Grid points sorted by ``a``, then ``b``.

    Examples
    --------
    >>> ab_grid().shape
    (529, 2)
    """
    step = as_float(step, "step", minimum=0, strict=True)
    extent = as_float(extent, "extent", minimum=0, strict=True)
    k = int(np.floor(extent / step + 1e-9))
    g = step * np.arange(-k, k + 1)
    return np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)


def srgb_ab_hull(n=33):
    """Vertices of the convex hull of the (a, b) projection of the whole sRGB cube.

    The cube's colours are sampled on its six faces (``n`` points per edge; the
    projection of the cube is the projection of its surface), converted with
    ``skimage.color.rgb2lab`` (D65), and the hull of their ``(a, b)`` is returned.

    Parameters
    ----------
    n : int, default=33
        Samples per edge of each face.

    Returns
    -------
    ndarray of shape (m, 2)
        Hull vertices in counter-clockwise order.

    Examples
    --------
    >>> hull = srgb_ab_hull()
    >>> bool(hull[:, 0].min() < -80 and hull[:, 0].max() > 95)
    True
    """
    from scipy.spatial import ConvexHull
    from skimage.color import rgb2lab

    n = as_int(n, "n", minimum=2)
    v = np.linspace(0.0, 1.0, n)
    u, w = (x.ravel() for x in np.meshgrid(v, v, indexing="ij"))
    faces = []
    for axis in range(3):
        for side in (0.0, 1.0):
            cols = [u, w]
            cols.insert(axis, np.full_like(u, side))
            faces.append(np.stack(cols, -1))
    rgb = np.concatenate(faces)
    ab = rgb2lab(rgb.reshape(-1, 1, 3)).reshape(-1, 3)[:, 1:]
    hull = ConvexHull(ab)
    return ab[hull.vertices]


def _inside_polygon(points, poly):
    """Whether each point lies inside (or on) the convex polygon ``poly`` (CCW)."""
    edge = np.roll(poly, -1, axis=0) - poly
    rel = points[:, None, :] - poly[None, :, :]
    cross = edge[None, :, 0] * rel[..., 1] - edge[None, :, 1] * rel[..., 0]
    return np.all(cross >= -1e-9, axis=1)


def _distance_to_polygon(points, poly):
    """Euclidean distance from each point to the convex polygon ``poly`` (CCW; 0 inside)."""
    a, b = poly, np.roll(poly, -1, axis=0)
    ab = b - a
    t = np.einsum("pkd,kd->pk", points[:, None, :] - a[None], ab) / np.sum(ab * ab, 1)
    near = a[None] + np.clip(t, 0, 1)[..., None] * ab[None]
    d = np.linalg.norm(points[:, None, :] - near, axis=-1).min(1)
    d[_inside_polygon(points, poly)] = 0.0
    return d


def _square_meets_polygon(points, poly, r):
    """Whether the square of half-side ``r`` around each point meets the convex polygon.

    Separating axes of two convex sets: the square's two axes and the polygon's edge
    normals. The point is within Chebyshev distance ``r`` of the polygon exactly when
    no axis separates them.
    """
    lo, hi = poly.min(0), poly.max(0)
    ok = np.all((points + r >= lo - 1e-9) & (points - r <= hi + 1e-9), axis=1)
    edge = np.roll(poly, -1, axis=0) - poly
    normal = np.stack([edge[:, 1], -edge[:, 0]], axis=1)  # outward for a CCW polygon
    reach = r * np.abs(normal).sum(1)
    gap = np.einsum("pkd,kd->pk", points[:, None, :] - poly[None], normal)
    return ok & np.all(gap <= reach[None] + 1e-9, axis=1)


def in_gamut_bins(step=GRID_STEP, definition="chebyshev", hull=None):
    """Centres of the ab bins counted as in gamut, under one of four definitions.

    The paper quantises ab "with grid size 10" and keeps ``Q = 313`` "in-gamut"
    values without defining in-gamut. The definitions (all our reconstructions):

    - ``"inside"``: grid points inside the convex hull of the sRGB cube's (a, b)
      projection;
    - ``"hit"``: grid points whose cell (the square of side ``step`` around them)
      holds the (a, b) of some sRGB colour, i.e. the nearest grid point of some colour;
    - ``"euclidean"``: grid points within Euclidean distance ``step`` of the hull;
    - ``"chebyshev"``: grid points within Chebyshev distance ``step`` of the hull
      (one grid step along each axis; the default).

    Parameters
    ----------
    step : float, default=10
        Grid spacing.
    definition : {"inside", "hit", "euclidean", "chebyshev"}, default="chebyshev"
    hull : ndarray of shape (m, 2), optional
        Hull vertices (counter-clockwise); computed by :func:`srgb_ab_hull` if omitted.

    Returns
    -------
    ndarray of shape (Q, 2)
        The bin centres, sorted by ``a``, then ``b``.

    Examples
    --------
    >>> len(in_gamut_bins())
    313
    """
    step = as_float(step, "step", minimum=0, strict=True)
    as_choice(definition, "definition", GAMUT_DEFINITIONS)
    hull = srgb_ab_hull() if hull is None else _ab(hull, "hull")
    grid = ab_grid(step, extent=step * (np.ceil(130.0 / step)))
    if definition == "hit":
        from skimage.color import rgb2lab

        v = np.linspace(0.0, 1.0, 65)
        rgb = np.stack(np.meshgrid(v, v, v, indexing="ij"), -1).reshape(-1, 1, 3)
        ab = rgb2lab(rgb).reshape(-1, 3)[:, 1:]
        keys = {tuple(k) for k in np.round(ab / step).astype(int)}
        keep = np.array([tuple(k) in keys for k in np.round(grid / step).astype(int)])
    elif definition == "inside":
        keep = _inside_polygon(grid, hull)
    elif definition == "euclidean":
        keep = _distance_to_polygon(grid, hull) <= step + 1e-9
    else:
        keep = _square_meets_polygon(grid, hull, step)
    return grid[keep]


def nearest_bin(ab, centres):
    """Index of the nearest bin centre of each colour.

    Parameters
    ----------
    ab : array_like of shape (n, 2)
    centres : array_like of shape (Q, 2)

    Returns
    -------
    ndarray of int, shape (n,)

    Examples
    --------
    >>> nearest_bin([[1.0, -2.0], [9.0, 9.0]], [[0.0, 0.0], [10.0, 10.0]])
    array([0, 1])
    """
    ab, centres = _ab(ab), _ab(centres, "centres")
    d2 = (ab * ab).sum(1)[:, None] - 2 * ab @ centres.T + (centres * centres).sum(1)[None]
    return np.argmin(d2, axis=1)


def soft_encode(ab, centres, n_neighbors=5, sigma=5.0):
    """Soft encoding of colours onto their nearest bins (the paper's target ``Z``).

    Each colour's ``n_neighbors`` nearest centres get weights proportional to
    ``exp(-d^2 / (2 sigma^2))``, ``d`` the distance to the centre; the others get 0.
    Each row sums to one.

    Parameters
    ----------
    ab : array_like of shape (n, 2)
    centres : array_like of shape (Q, 2)
    n_neighbors : int, default=5
        The paper's 5 (its public code uses 10).
    sigma : float, default=5
        Width of the Gaussian kernel, in Lab units.

    Returns
    -------
    ndarray of shape (n, Q)

    Examples
    --------
    >>> z = soft_encode([[0.0, 0.0]], in_gamut_bins())
    >>> round(float(z.sum()), 12), int(np.count_nonzero(z))
    (1.0, 5)
    """
    ab, centres = _ab(ab), _ab(centres, "centres")
    k = as_int(n_neighbors, "n_neighbors", minimum=1)
    if k > len(centres):
        raise ValueError(f"n_neighbors must be at most the number of centres {len(centres)}, got {k}")
    sigma = as_float(sigma, "sigma", minimum=0, strict=True)
    d2 = ((ab[:, None, :] - centres[None]) ** 2).sum(-1)
    idx = np.argsort(d2, axis=1, kind="stable")[:, :k]
    near = np.take_along_axis(d2, idx, axis=1)
    w = np.exp(-(near - near[:, :1]) / (2 * sigma**2))
    z = np.zeros((len(ab), len(centres)))
    np.put_along_axis(z, idx, w / w.sum(1, keepdims=True), axis=1)
    return z


def empirical_prior(ab, centres, sigma=5.0):
    """Empirical distribution of colours over the bins, raw and Gaussian-smoothed.

    ``p[q]`` is the share of colours whose nearest centre is ``q``. The smoothed
    ``p_tilde`` convolves it with a Gaussian of width ``sigma`` over the bin centres,
    ``p_tilde[q] ∝ sum_j p[j] exp(-|c_q - c_j|^2 / (2 sigma^2))``, renormalised;
    ``sigma = 0`` returns ``p`` twice.

    Parameters
    ----------
    ab : array_like of shape (n, 2)
    centres : array_like of shape (Q, 2)
    sigma : float, default=5

    Returns
    -------
    p, p_tilde : ndarray of shape (Q,)

    Examples
    --------
    >>> p, pt = empirical_prior([[0.0, 0.0], [1.0, 0.0], [30.0, 0.0]], in_gamut_bins())
    >>> round(float(p.max()), 4), round(float(pt.sum()), 12)
    (0.6667, 1.0)
    """
    centres = _ab(centres, "centres")
    sigma = as_float(sigma, "sigma", minimum=0)
    q = nearest_bin(ab, centres)
    p = np.bincount(q, minlength=len(centres)) / len(q)
    if sigma == 0:
        return p, p.copy()
    d2 = ((centres[:, None, :] - centres[None]) ** 2).sum(-1)
    pt = np.exp(-d2 / (2 * sigma**2)) @ p
    return p, pt / pt.sum()


def rebalancing_weights(p_tilde, lam=0.5):
    """Class-rebalancing weights ``w ∝ ((1 - lam) p_tilde + lam / Q)^-1`` with ``E[w] = 1``.

    Normalised so that ``sum_q p_tilde[q] w[q] = 1``: the expected weight of a pixel
    drawn from the (smoothed) empirical distribution is one.

    Parameters
    ----------
    p_tilde : array_like of shape (Q,)
        A distribution over the bins.
    lam : float, default=0.5
        Mixing weight of the uniform distribution, in ``[0, 1]``.

    Returns
    -------
    ndarray of shape (Q,)

    Examples
    --------
    >>> w = rebalancing_weights([0.7, 0.2, 0.1], lam=1.0)
    >>> [round(float(x), 12) for x in w]
    [1.0, 1.0, 1.0]
    """
    p = np.asarray(p_tilde, dtype=np.float64)
    if p.ndim != 1 or len(p) == 0:
        raise ValueError(f"p_tilde must be a non-empty 1-D array, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0) or abs(p.sum() - 1) > 1e-8:
        raise ValueError("p_tilde must be a distribution: finite, non-negative, summing to 1")
    lam = as_float(lam, "lam", minimum=0)
    if lam > 1:
        raise ValueError(f"lam must be in [0, 1], got {lam}")
    mix = (1 - lam) * p + lam / len(p)
    if np.any(mix <= 0):
        raise ValueError("lam = 0 needs p_tilde > 0 in every bin (the weight 1/p is infinite)")
    w = 1.0 / mix
    return w / (p @ w)


def annealed_mean(probs, centres, T=0.38):
    """Decode distributions over bins into colours by the annealed mean.

    ``f_T(z) = exp(log z / T) / sum_q exp(log z_q / T)``, and the colour is the mean
    of the centres under ``f_T(z)``. ``T = 1`` gives the mean of ``z``; ``T = 0`` the
    mode (the centre of the most probable bin, the first one on ties).

    Parameters
    ----------
    probs : array_like of shape (n, Q)
        Non-negative rows (normalised here).
    centres : array_like of shape (Q, 2)
    T : float, default=0.38
        The temperature, ``>= 0``; the paper's value is 0.38.

    Returns
    -------
    ndarray of shape (n, 2)

    Examples
    --------
    >>> c = np.array([[0.0, 0.0], [10.0, 0.0]])
    >>> annealed_mean([[0.25, 0.75]], c, T=1.0).tolist(), annealed_mean([[0.25, 0.75]], c, T=0).tolist()
    ([[7.5, 0.0]], [[10.0, 0.0]])
    """
    centres = _ab(centres, "centres")
    z = _probs(probs, "probs", len(centres))
    T = as_float(T, "T", minimum=0)
    if np.any(z.sum(1) <= 0):
        raise ValueError("probs must have a positive sum in every row")
    if T == 0:
        return centres[np.argmax(z, axis=1)].copy()
    with np.errstate(divide="ignore"):
        logits = np.log(z) / T
    logits -= logits.max(1, keepdims=True)
    f = np.exp(logits)
    return (f / f.sum(1, keepdims=True)) @ centres


def chroma(ab):
    """Chroma ``sqrt(a^2 + b^2)`` of colours in an array whose last axis is ``(a, b)``.

    Examples
    --------
    >>> float(chroma(np.array([3.0, 4.0])))
    5.0
    """
    ab = np.asarray(ab, dtype=np.float64)
    if ab.shape[-1:] != (2,):
        raise ValueError(f"ab must have a last axis of length 2, got shape {ab.shape}")
    return np.hypot(ab[..., 0], ab[..., 1])


def hue_agreement(pred_ab, true_ab):
    """Mean signed projection of predicted colours on the direction of the true ones.

    ``mean_i <pred_i, t_i / |t_i|>`` over the pixels (a pixel whose true colour is gray,
    ``t_i = 0``, contributes 0). A perfect prediction gives the mean true chroma; gray,
    and colours of random hue, give 0 on average; the opposite hue gives a negative
    value. Unlike chroma it rewards saturation only in the right direction.

    Parameters
    ----------
    pred_ab, true_ab : array_like of shape (..., 2)
        The same shape.

    Returns
    -------
    float

    Examples
    --------
    >>> t = np.array([[30.0, 40.0], [0.0, 0.0]])
    >>> hue_agreement(t, t), hue_agreement(-t, t), hue_agreement(np.zeros((2, 2)), t)
    (25.0, -25.0, 0.0)
    """
    pred = np.asarray(pred_ab, dtype=np.float64)
    true = np.asarray(true_ab, dtype=np.float64)
    if pred.shape != true.shape or pred.shape[-1] != 2:
        raise ValueError(f"pred_ab and true_ab must have one shape (..., 2), got {pred.shape} and {true.shape}")
    pred, true = pred.reshape(-1, 2), true.reshape(-1, 2)
    norm = np.sqrt((true**2).sum(1))
    dot = (pred * true).sum(1)
    return float(np.where(norm > 0, dot / np.where(norm > 0, norm, 1.0), 0.0).mean())


def local_variation(ab_image):
    """Mean distance in ab between horizontally and vertically adjacent pixels.

    Parameters
    ----------
    ab_image : array_like of shape (h, w, 2)

    Returns
    -------
    float

    Examples
    --------
    >>> img = np.zeros((2, 3, 2)); img[:, 2] = [3.0, 4.0]
    >>> local_variation(img)  # 2 of the 4 horizontal pairs differ by 5, none of 3 vertical
    1.4285714285714286
    """
    x = np.asarray(ab_image, dtype=np.float64)
    if x.ndim != 3 or x.shape[2] != 2 or min(x.shape[:2]) < 2:
        raise ValueError(f"ab_image must have shape (h, w, 2) with h, w >= 2, got {x.shape}")
    dh = np.linalg.norm(np.diff(x, axis=1), axis=-1)
    dv = np.linalg.norm(np.diff(x, axis=0), axis=-1)
    return float((dh.sum() + dv.sum()) / (dh.size + dv.size))


def auc_accuracy(pred_ab, true_ab, centres=None, max_threshold=150.0, n_thresholds=151):
    """Area under the curve of per-pixel accuracy against the threshold, and its class-balanced variant.

    A pixel is correct at threshold ``t`` when its predicted ab is within Euclidean
    distance ``t`` of the truth; the accuracy curve over ``t`` in
    ``[0, max_threshold]`` is integrated (trapezoid) and divided by ``max_threshold``,
    so that a perfect prediction scores 1. The class-balanced variant weights each
    pixel by the inverse of the number of evaluated pixels whose true colour falls in
    the same bin of ``centres`` (every colour class counts equally).

    Parameters
    ----------
    pred_ab, true_ab : array_like of shape (n, 2)
    centres : array_like of shape (Q, 2), optional
        Bins for the balanced variant; :func:`in_gamut_bins` if omitted.
    max_threshold : float, default=150
    n_thresholds : int, default=151

    Returns
    -------
    auc, auc_balanced : float

    Examples
    --------
    >>> ab = np.array([[0.0, 0.0], [40.0, 30.0]])
    >>> auc_accuracy(ab, ab)
    (1.0, 1.0)
    """
    pred, true = _ab(pred_ab, "pred_ab"), _ab(true_ab, "true_ab")
    if pred.shape != true.shape:
        raise ValueError(f"pred_ab and true_ab must have the same shape, got {pred.shape} and {true.shape}")
    tmax = as_float(max_threshold, "max_threshold", minimum=0, strict=True)
    k = as_int(n_thresholds, "n_thresholds", minimum=2)
    centres = in_gamut_bins() if centres is None else _ab(centres, "centres")
    t = np.linspace(0.0, tmax, k)
    err = np.linalg.norm(pred - true, axis=1)
    q = nearest_bin(true, centres)
    counts = np.bincount(q, minlength=len(centres))
    w_bal = 1.0 / counts[q]
    out = []
    for w in (np.ones(len(err)), w_bal):
        order = np.argsort(err)
        cum = np.concatenate([[0.0], np.cumsum(w[order])]) / w.sum()
        acc = cum[np.searchsorted(err[order], t, side="right")]
        out.append(float(np.trapezoid(acc, t) / tmax))
    return out[0], out[1]


def load_photos(names=PHOTOS):
    """The bundled colour photographs, as uint8 RGB arrays (nothing is downloaded).

    ``motorcycle_left`` and ``motorcycle_right`` are the two views of
    ``skimage.data.stereo_motorcycle`` (one scene); ``china`` and ``flower`` are
    scikit-learn's ``load_sample_images``.

    Parameters
    ----------
    names : sequence of str, default=PHOTOS

    Returns
    -------
    dict of str to ndarray of shape (h, w, 3)

    Examples
    --------
    >>> load_photos(["chelsea"])["chelsea"].shape
    (300, 451, 3)
    """
    if isinstance(names, str):
        raise TypeError("names must be a sequence of photo names, not a string")
    out = {}
    for name in names:
        as_choice(name, "names", PHOTOS)
        if name in ("china", "flower"):
            from sklearn.datasets import load_sample_image

            out[name] = load_sample_image(f"{name}.jpg")
        elif name.startswith("motorcycle_"):
            from skimage import data

            left, right, _ = data.stereo_motorcycle()
            out[name] = left if name.endswith("left") else right
        else:
            from skimage import data

            out[name] = getattr(data, name)()
    return out


def photo_lab(rgb, size=None):
    """A photograph in CIE Lab (``skimage.color.rgb2lab``), optionally resized.

    Parameters
    ----------
    rgb : ndarray of shape (h, w, 3)
        uint8 or float in ``[0, 1]``.
    size : int, optional
        Length of the longer side after resizing (anti-aliased).

    Returns
    -------
    ndarray of shape (h', w', 3)
        ``L`` in ``[0, 100]``, then ``a``, ``b``.

    Examples
    --------
    >>> photo_lab(load_photos(["chelsea"])["chelsea"], size=90).shape
    (60, 90, 3)
    """
    from skimage.color import rgb2lab
    from skimage.transform import resize
    from skimage.util import img_as_float

    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must have shape (h, w, 3), got {rgb.shape}")
    x = img_as_float(rgb)
    if size is not None:
        size = as_int(size, "size", minimum=8)
        h, w = x.shape[:2]
        s = size / max(h, w)
        x = resize(x, (round(h * s), round(w * s)), anti_aliasing=True)
    return rgb2lab(np.clip(x, 0.0, 1.0))


def extract_patches(images, patch, n, seed=0):
    """Random square patches from a list of Lab images, equally many from each.

    Parameters
    ----------
    images : sequence of ndarray of shape (h, w, 3)
    patch : int
        Side of the patches.
    n : int
        Patches in all (rounded up to a multiple of the number of images).
    seed : int or numpy.random.Generator, default=0

    Returns
    -------
    ndarray of shape (n', patch, patch, 3)

    Examples
    --------
    >>> lab = photo_lab(load_photos(["chelsea"])["chelsea"], size=64)
    >>> extract_patches([lab], 16, 5, seed=1).shape
    (5, 16, 16, 3)
    """
    if len(images) == 0:
        raise ValueError("images must hold at least one image")
    patch = as_int(patch, "patch", minimum=2)
    n = as_int(n, "n", minimum=1)
    g = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    per = -(-n // len(images))
    out = []
    for k, img in enumerate(images):
        img = np.asarray(img, dtype=np.float64)
        if img.ndim != 3 or img.shape[2] != 3 or min(img.shape[:2]) < patch:
            raise ValueError(f"images[{k}] must have shape (h, w, 3) with h, w >= patch, got {img.shape}")
        ys = g.integers(0, img.shape[0] - patch + 1, per)
        xs = g.integers(0, img.shape[1] - patch + 1, per)
        out.extend(img[y:y + patch, x:x + patch] for y, x in zip(ys, xs))
    return np.stack(out)


class ColorNet(torch.nn.Module):
    """A small fully convolutional network from L to ab, at a quarter of the resolution.

    Four 3x3 convolutions with ReLU (the second and third of stride 2, the fourth
    dilated by 2; the paper's network also predicts at a quarter of the resolution)
    and a 1x1 head: 2 outputs (ab in units of 100) for regression, ``n_bins`` logits
    for classification. The input is ``(L - 50) / 50`` of shape ``(batch, 1, h, w)``;
    the output has shape ``(batch, out, ceil(h/4), ceil(w/4))``.

    Examples
    --------
    >>> net = ColorNet(width=8, n_out=313)
    >>> tuple(net(torch.zeros(1, 1, 16, 16)).shape)
    (1, 313, 4, 4)
    """

    def __init__(self, width=32, n_out=2):
        super().__init__()
        width = as_int(width, "width", minimum=1)
        n_out = as_int(n_out, "n_out", minimum=1)
        c = width
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(1, c, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(c, 2 * c, 3, stride=2, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(2 * c, 2 * c, 3, padding=2, dilation=2),
            torch.nn.ReLU(),
        )
        self.head = torch.nn.Conv2d(2 * c, n_out, 1)

    def forward(self, L):
        return self.head(self.body(L))


@dataclass
class ColorRun:
    """The result of :func:`train_colorizer`: the trained network and its record."""

    net: ColorNet
    mode: str
    centres: np.ndarray
    losses: np.ndarray = field(repr=False)
    seconds: float = 0.0


def _pool(ab):
    """Average-pool an ab tensor ``(B, 2, h, w)`` to the network's output grid (1/4)."""
    return torch.nn.functional.avg_pool2d(ab, 4, ceil_mode=True)


def train_colorizer(patches, mode, centres, weights=None, *, steps, batch_size=16, lr=2e-3,
                    width=32, n_neighbors=5, sigma=5.0, seed=0, device="cpu"):
    """Train a :class:`ColorNet` on Lab patches with one of the paper's three losses.

    The target is the patches' ab average-pooled to the output grid. ``"regression"``
    minimises the mean squared error of ab (in units of 100); ``"classification"``
    the cross-entropy ``-sum_q Z_q log softmax(logits)_q`` against the soft encoding
    ``Z`` (:func:`soft_encode`); ``"rebalanced"`` the same with each pixel weighted by
    ``weights[q*]``, ``q*`` the bin nearest to its true colour. Adam with a
    cosine-decayed step; minibatches drawn from ``numpy.random.default_rng(seed)``;
    one torch thread (restored afterwards), so that the result does not depend on the
    machine's thread count.

    Parameters
    ----------
    patches : ndarray of shape (n, p, p, 3)
        Lab patches (:func:`extract_patches`).
    mode : {"regression", "classification", "rebalanced"}
    centres : ndarray of shape (Q, 2)
    weights : ndarray of shape (Q,), optional
        Rebalancing weights (:func:`rebalancing_weights`); required for "rebalanced".
    steps : int
    batch_size : int, default=16
    lr : float, default=2e-3
    width : int, default=32
    n_neighbors : int, default=5
    sigma : float, default=5
    seed : int, default=0
    device : {"cpu", "cuda"}, default="cpu"
        Where the network trains. The weights are initialised and the minibatches
        drawn on the CPU as always, and the trained network is returned on the CPU;
        on a GPU the floating-point reductions differ, so the numbers agree with the
        CPU's only to training noise.

    Returns
    -------
    ColorRun

    Examples
    --------
    >>> lab = photo_lab(load_photos(["chelsea"])["chelsea"], size=64)
    >>> P = extract_patches([lab], 16, 8, seed=0)
    >>> run = train_colorizer(P, "regression", in_gamut_bins(), steps=3, width=4, seed=0)
    >>> run.losses.shape
    (3,)
    """
    P = np.asarray(patches, dtype=np.float64)
    if P.ndim != 4 or P.shape[3] != 3 or P.shape[1] < 2 or P.shape[2] < 2:
        raise ValueError(f"patches must have shape (n, p, p, 3), got {P.shape}")
    if not np.all(np.isfinite(P)):
        raise ValueError("patches must contain only finite values")
    as_choice(mode, "mode", MODES)
    centres = _ab(centres, "centres")
    if mode == "rebalanced":
        if weights is None:
            raise ValueError("weights must be given for mode 'rebalanced'")
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (len(centres),) or not np.all(np.isfinite(weights)) or np.any(weights <= 0):
            raise ValueError(f"weights must be {len(centres)} finite positive numbers, got shape {weights.shape}")
    steps = as_int(steps, "steps", minimum=1)
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    lr = as_float(lr, "lr", minimum=0, strict=True)
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    as_choice(device, "device", ("cpu", "cuda"))
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but torch sees no GPU on this machine")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(P, mode, centres, weights, steps, batch_size, lr, width, n_neighbors, sigma, seed, device)
    finally:
        torch.set_num_threads(threads)


def _soft_targets(ab, C, k, sigma, chunk=65536):
    """Soft encoding of every target pixel, as neighbour indices and weights.

    ``ab`` has shape ``(n, 2, h, w)``; returns ``nidx`` (int64) and ``wz`` (float32)
    of shape ``(n, k, h, w)``: the ``k`` nearest centres and their Gaussian weights,
    as :func:`soft_encode` (checked against it by the tests).
    """
    n, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    nidx = torch.empty((len(flat), k), dtype=torch.int64)
    wz = torch.empty((len(flat), k), dtype=torch.float32)
    for i in range(0, len(flat), chunk):
        d2 = torch.cdist(flat[i:i + chunk].double(), C.double()) ** 2
        near, nidx[i:i + chunk] = torch.topk(d2, k, dim=1, largest=False, sorted=True)
        wz[i:i + chunk] = torch.softmax(-near / (2 * sigma**2), dim=1).float()
    shape = (n, h, w, k)
    return (nidx.reshape(shape).permute(0, 3, 1, 2).contiguous(),
            wz.reshape(shape).permute(0, 3, 1, 2).contiguous())


def _train(P, mode, centres, weights, steps, batch_size, lr, width, n_neighbors, sigma, seed, device):
    t0 = time.perf_counter()
    g = np.random.default_rng(seed)
    torch.manual_seed(int(g.integers(2**31)))
    n_out = 2 if mode == "regression" else len(centres)
    net = ColorNet(width=width, n_out=n_out).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    L = torch.tensor((P[..., 0] - 50.0) / 50.0, dtype=torch.float32)[:, None]
    ab = _pool(torch.tensor(P[..., 1:], dtype=torch.float32).permute(0, 3, 1, 2))
    C = torch.tensor(centres, dtype=torch.float32)
    W = None if weights is None else torch.tensor(weights, dtype=torch.float32).to(device)
    if mode != "regression":
        nidx, wz = _soft_targets(ab, C, as_int(n_neighbors, "n_neighbors", minimum=1),
                                 as_float(sigma, "sigma", minimum=0, strict=True))
        nidx, wz = nidx.to(device), wz.to(device)
    L, ab = L.to(device), ab.to(device)
    losses = np.empty(steps)
    for s in range(steps):
        idx = torch.tensor(g.choice(len(P), size=min(batch_size, len(P)), replace=False)).to(device)
        out = net(L[idx])
        if mode == "regression":
            loss = ((out - ab[idx] / 100.0) ** 2).sum(1).mean()
        else:
            logp = torch.log_softmax(out, dim=1)
            ce = -(wz[idx] * torch.gather(logp, 1, nidx[idx])).sum(1)
            if mode == "rebalanced":
                ce = ce * W[nidx[idx, 0]]
            loss = ce.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses[s] = float(loss.detach())
    return ColorRun(net=net.to("cpu"), mode=mode, centres=centres, losses=losses, seconds=time.perf_counter() - t0)


def predict(run, L, T=0.38):
    """Colourise a lightness image: ab at full resolution, and the bin distribution.

    Parameters
    ----------
    run : ColorRun
    L : ndarray of shape (h, w)
        Lightness in ``[0, 100]``.
    T : float or None, default=0.38
        Annealed-mean temperature for the classifiers (ignored for regression).

    Returns
    -------
    ab : ndarray of shape (h, w, 2)
        Bilinearly upsampled to the input's size.
    probs : ndarray of shape (ceil(h/4) * ceil(w/4), Q) or None
        The predicted distributions on the output grid (None for regression).

    Examples
    --------
    >>> lab = photo_lab(load_photos(["chelsea"])["chelsea"], size=64)
    >>> P = extract_patches([lab], 16, 8, seed=0)
    >>> run = train_colorizer(P, "classification", in_gamut_bins(), steps=2, width=4)
    >>> ab, z = predict(run, lab[..., 0])
    >>> ab.shape, z.shape
    ((43, 64, 2), (176, 313))
    """
    if not isinstance(run, ColorRun):
        raise TypeError(f"run must be a ColorRun, got {type(run).__name__}")
    L = np.asarray(L, dtype=np.float64)
    if L.ndim != 2 or not np.all(np.isfinite(L)):
        raise ValueError(f"L must be a finite 2-D array, got shape {L.shape}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            x = torch.tensor((L - 50.0) / 50.0, dtype=torch.float32)[None, None]
            out = run.net(x)[0]
    finally:
        torch.set_num_threads(threads)
    h2, w2 = out.shape[1:]
    if run.mode == "regression":
        ab_half, probs = out.permute(1, 2, 0).numpy().astype(np.float64) * 100.0, None
    else:
        probs = torch.softmax(out, 0).permute(1, 2, 0).reshape(-1, out.shape[0]).numpy()
        probs = probs.astype(np.float64)
        probs /= probs.sum(1, keepdims=True)  # exact rows in float64
        ab_half = annealed_mean(probs, run.centres, T=T).reshape(h2, w2, 2)
    return upsample(ab_half, L.shape), probs


def upsample(ab_half, shape):
    """Bilinear upsampling of an ab image ``(h2, w2, 2)`` to ``shape`` ``(h, w)``."""
    t = torch.tensor(np.asarray(ab_half, dtype=np.float64)).permute(2, 0, 1)[None]
    up = torch.nn.functional.interpolate(t, size=tuple(shape), mode="bilinear", align_corners=False)
    return up[0].permute(1, 2, 0).numpy()


def pooled_oracle(ab_image):
    """The best prediction the training protocol can express: the truth pooled and upsampled.

    The networks are trained against ab average-pooled over 4 x 4 blocks (the output
    grid) and their outputs are upsampled bilinearly; a network that predicted every
    pooled target exactly would output this image. Its chroma is below the truth's
    wherever a block mixes colours (Jensen), which sets the ceiling of a chroma ratio
    measured under this protocol.

    Parameters
    ----------
    ab_image : ndarray of shape (h, w, 2)

    Returns
    -------
    ndarray of shape (h, w, 2)

    Examples
    --------
    >>> flat = np.full((8, 8, 2), 20.0)
    >>> bool(np.allclose(pooled_oracle(flat), flat))
    True
    """
    ab = np.asarray(ab_image, dtype=np.float64)
    if ab.ndim != 3 or ab.shape[2] != 2:
        raise ValueError(f"ab_image must have shape (h, w, 2), got {ab.shape}")
    pooled = _pool(torch.tensor(ab).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    return upsample(pooled, ab.shape[:2])


def lab_to_rgb(lab):
    """Lab to sRGB in ``[0, 1]``, colours outside the sRGB cube clipped to it.

    ``skimage.color.lab2rgb`` warns when a colour falls outside the gamut (a predicted
    ab need not be reachable at the pixel's lightness); the clipping is the same, the
    warning is not repeated.

    Examples
    --------
    >>> lab_to_rgb(np.array([[[50.0, 0.0, 0.0]]])).round(3).tolist()
    [[[0.466, 0.466, 0.466]]]
    """
    import warnings

    from skimage.color import lab2rgb

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Conversion from CIE-LAB")
        return np.clip(lab2rgb(np.asarray(lab, dtype=np.float64)), 0.0, 1.0)
