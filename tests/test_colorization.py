"""Tests of tensordl.colorization: bins, encodings, weights, decoding, metrics, training."""

import numpy as np
import pytest
import torch
from matplotlib.path import Path as MplPath
from scipy.spatial import ConvexHull
from skimage.color import rgb2lab

from tensordl import colorization as co


@pytest.fixture(scope="module")
def hull():
    return co.srgb_ab_hull()


@pytest.fixture(scope="module")
def centres(hull):
    return co.in_gamut_bins(hull=hull)


@pytest.fixture(scope="module")
def patches():
    lab = co.photo_lab(co.load_photos(["chelsea"])["chelsea"], size=64)
    return co.extract_patches([lab], 16, 12, seed=3)


# --- the quantised ab space -------------------------------------------------------


def test_in_gamut_count_against_a_brute_force_computation(hull, centres):
    """313 bins: an independent hull (whole cube, scipy), dense polygon samples, a square test."""
    v = np.linspace(0, 1, 41)
    rgb = np.stack(np.meshgrid(v, v, v, indexing="ij"), -1).reshape(-1, 1, 3)
    ab = rgb2lab(rgb).reshape(-1, 3)[:, 1:]
    poly = ab[ConvexHull(ab).vertices]
    path = MplPath(np.vstack([poly, poly[:1]]))
    # samples of the filled polygon: a fine grid inside it and its boundary
    g = np.arange(-130, 130.01, 0.5)
    grid = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    inner = grid[path.contains_points(grid)]
    edges = np.vstack([poly, poly[:1]])
    s = np.linspace(0, 1, 200)[:, None]
    boundary = np.concatenate([a + s * (b - a) for a, b in zip(edges[:-1], edges[1:])])
    samples = np.vstack([inner, boundary])
    kept = []
    for c in co.ab_grid(10.0, 130.0):
        # the square of half-side 10 around c meets the polygon (Chebyshev distance <= 10)
        if np.any(np.abs(samples - c).max(1) <= 10.0 + 1e-6):
            kept.append(c)
    kept = np.array(kept)
    assert len(kept) == len(centres) == 313
    np.testing.assert_array_equal(kept, centres)


def test_the_four_definitions_are_nested_and_differ(hull):
    sets = {d: {tuple(c) for c in co.in_gamut_bins(definition=d, hull=hull)} for d in co.GAMUT_DEFINITIONS}
    assert sets["inside"] <= sets["euclidean"] <= sets["chebyshev"]
    assert sets["hit"] <= sets["chebyshev"]
    assert [len(sets[d]) for d in ("inside", "hit", "euclidean", "chebyshev")] == [233, 261, 295, 313]


def test_hull_holds_every_srgb_colour(hull):
    g = np.random.default_rng(0)
    ab = rgb2lab(g.random((2000, 1, 3))).reshape(-1, 3)[:, 1:]
    path = MplPath(np.vstack([hull, hull[:1]]))
    assert path.contains_points(ab, radius=1e-6).all() or path.contains_points(ab, radius=-1e-6).all()


def test_grid_and_nearest_bin():
    grid = co.ab_grid(10.0, 20.0)
    assert grid.shape == (25, 2) and set(np.unique(grid)) == {-20, -10, 0, 10, 20}
    ab = np.random.default_rng(1).uniform(-20, 20, (50, 2))
    idx = co.nearest_bin(ab, grid)
    brute = np.argmin(((ab[:, None] - grid[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(idx, brute)


# --- soft encoding, prior and weights ---------------------------------------------


def test_soft_encoding_sums_to_one_on_the_nearest_bins(centres):
    ab = np.random.default_rng(2).uniform(-60, 60, (200, 2))
    z = co.soft_encode(ab, centres, n_neighbors=5, sigma=5.0)
    np.testing.assert_allclose(z.sum(1), 1.0, atol=1e-12)
    assert (np.count_nonzero(z, axis=1) == 5).all()
    # the largest weight is on the nearest bin, and the weights are the Gaussian ratios
    np.testing.assert_array_equal(z.argmax(1), co.nearest_bin(ab, centres))
    d2 = ((ab[:, None] - centres[None]) ** 2).sum(-1)
    i, (j, k) = 7, np.argsort(d2[7])[:2]
    np.testing.assert_allclose(z[i, k] / z[i, j], np.exp(-(d2[i, k] - d2[i, j]) / 50.0), rtol=1e-10)


def test_soft_encoding_of_a_centre_decodes_back_to_it(centres):
    """Bins with all four axis neighbours: the 5 nearest are symmetric, so the mean (T = 1) and the
    mode are the centre."""
    have = {tuple(c) for c in centres}
    steps = [(10, 0), (-10, 0), (0, 10), (0, -10)]
    interior = np.array([c for c in centres if all((c[0] + u, c[1] + v) in have for u, v in steps)])
    assert len(interior) > 200
    z = co.soft_encode(interior, centres)
    np.testing.assert_allclose(co.annealed_mean(z, centres, T=1.0), interior, atol=1e-10)
    np.testing.assert_array_equal(co.annealed_mean(z, centres, T=0), interior)


def test_training_targets_match_the_public_soft_encoding(centres):
    ab = torch.tensor(np.random.default_rng(4).uniform(-50, 50, (2, 2, 3, 3)), dtype=torch.float32)
    nidx, wz = co._soft_targets(ab, torch.tensor(centres, dtype=torch.float32), 5, 5.0)
    assert nidx.shape == wz.shape == (2, 5, 3, 3)
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2).double().numpy()
    idx = nidx.permute(0, 2, 3, 1).reshape(-1, 5).numpy()
    wts = wz.permute(0, 2, 3, 1).reshape(-1, 5).numpy()
    dense = np.zeros((len(flat), len(centres)))
    np.put_along_axis(dense, idx, wts, axis=1)
    np.testing.assert_allclose(dense, co.soft_encode(flat, centres), atol=1e-6)


def test_empirical_prior_is_the_histogram_and_smoothing_keeps_mass(centres):
    ab = np.random.default_rng(5).normal(0, 15, (3000, 2))
    p, pt = co.empirical_prior(ab, centres, sigma=5.0)
    q = co.nearest_bin(ab, centres)
    idx, counts = np.unique(q, return_counts=True)
    np.testing.assert_allclose(p[idx], counts / 3000)
    assert p.sum() == pytest.approx(1.0) and pt.sum() == pytest.approx(1.0)
    assert pt.max() < p.max()  # smoothing flattens the peak
    p0, pt0 = co.empirical_prior(ab, centres, sigma=0.0)
    np.testing.assert_array_equal(p0, pt0)


@pytest.mark.parametrize("lam", [0.1, 0.5, 0.9])
def test_rebalancing_weights_have_expectation_one(lam):
    p = np.random.default_rng(6).dirichlet(np.full(313, 0.2))
    w = co.rebalancing_weights(p, lam=lam)
    assert p @ w == pytest.approx(1.0, abs=1e-12)
    # inverse to the mixture: rarer bins weigh more
    order = np.argsort(p)
    assert np.all(np.diff(w[order]) <= 1e-12)
    ratio = w.max() / w.min()
    assert ratio <= 1 + (1 - lam) * 313 * p.max() / lam + 1e-9


def test_rebalancing_without_mixing_is_uniform_at_lam_one():
    np.testing.assert_allclose(co.rebalancing_weights([0.5, 0.3, 0.2], lam=1.0), 1.0)


# --- annealed mean ------------------------------------------------------------------


def test_annealed_mean_from_the_mean_to_the_mode(centres):
    g = np.random.default_rng(7)
    z = g.dirichlet(np.full(len(centres), 0.3), size=20)
    np.testing.assert_allclose(co.annealed_mean(z, centres, T=1.0), z @ centres, atol=1e-10)
    mode = centres[z.argmax(1)]
    np.testing.assert_array_equal(co.annealed_mean(z, centres, T=0), mode)
    top2 = np.sort(z, axis=1)[:, -2:]
    clear = top2[:, 1] > 1.05 * top2[:, 0]  # no near-tie: (1/1.05)^1000 < 1e-21
    assert clear.sum() >= 10
    np.testing.assert_allclose(co.annealed_mean(z[clear], centres, T=1e-3), mode[clear], atol=1e-6)
    # scaling a row does not change the decoding
    np.testing.assert_allclose(co.annealed_mean(3 * z, centres, T=0.38), co.annealed_mean(z, centres, T=0.38))


def test_annealed_mean_closed_form_for_two_bins():
    c = np.array([[0.0, 0.0], [10.0, 0.0]])
    for T in (1.0, 0.5, 0.25):
        w = 0.75 ** (1 / T) / (0.25 ** (1 / T) + 0.75 ** (1 / T))
        assert co.annealed_mean([[0.25, 0.75]], c, T=T)[0, 0] == pytest.approx(10 * w)


# --- metrics ------------------------------------------------------------------------


def test_auc_of_a_perfect_prediction_is_one(centres):
    ab = np.random.default_rng(8).uniform(-60, 60, (500, 2))
    assert co.auc_accuracy(ab, ab, centres) == pytest.approx((1.0, 1.0), abs=1e-12)


def test_auc_of_a_constant_error_is_the_area_after_the_step(centres):
    """Every pixel off by e = 30: accuracy jumps from 0 to 1 between t = 29 and 30."""
    true = np.random.default_rng(9).uniform(-40, 40, (300, 2))
    pred = true + np.array([30.0, 0.0])
    auc, bal = co.auc_accuracy(pred, true, centres)
    assert auc == pytest.approx((150.5 - 30) / 150) and bal == pytest.approx(auc)


def test_balanced_auc_counts_each_colour_class_equally(centres):
    true = np.array([[0.0, 0.0]] * 9 + [[60.0, 0.0]])
    pred = np.zeros_like(true)  # gray: exact on the nine gray pixels, 60 off on the red one
    auc, bal = co.auc_accuracy(pred, true, centres)
    step = (150.5 - 60) / 150
    assert auc == pytest.approx(0.9 + 0.1 * step)
    assert bal == pytest.approx(0.5 + 0.5 * step)


def test_chroma_and_local_variation():
    assert co.chroma(np.array([[3.0, 4.0], [0.0, -2.0]])).tolist() == [5.0, 2.0]
    assert co.local_variation(np.ones((4, 5, 2))) == 0.0
    ramp = np.zeros((3, 4, 2))
    ramp[..., 0] = np.arange(4) * 2.0  # horizontal steps of 2, vertical of 0
    assert co.local_variation(ramp) == pytest.approx(2.0 * 9 / (9 + 8))


# --- data ---------------------------------------------------------------------------


def test_bundled_photos_load_without_network():
    photos = co.load_photos()
    assert list(photos) == list(co.PHOTOS)
    for img in photos.values():
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert not np.array_equal(photos["motorcycle_left"], photos["motorcycle_right"])


def test_photo_lab_and_patches():
    lab = co.photo_lab(co.load_photos(["coffee"])["coffee"], size=80)
    assert lab.shape == (53, 80, 3) and 0 <= lab[..., 0].min() and lab[..., 0].max() <= 100
    a = co.extract_patches([lab, lab[:40]], 16, 6, seed=1)
    b = co.extract_patches([lab, lab[:40]], 16, 6, seed=1)
    assert a.shape == (6, 16, 16, 3)
    np.testing.assert_array_equal(a, b)


# --- the network and its training -----------------------------------------------------


def test_colornet_predicts_at_a_quarter_resolution():
    net = co.ColorNet(width=4, n_out=7)
    assert tuple(net(torch.zeros(2, 1, 17, 32)).shape) == (2, 7, 5, 8)


@pytest.mark.parametrize("mode", ["regression", "classification", "rebalanced"])
def test_same_seed_same_numbers_and_thread_count_does_not_matter(patches, centres, mode):
    w = co.rebalancing_weights(co.empirical_prior(patches[..., 1:].reshape(-1, 2), centres)[1])
    kw = dict(steps=4, width=4, batch_size=4, seed=11)
    a = co.train_colorizer(patches, mode, centres, w, **kw)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        b = co.train_colorizer(patches, mode, centres, w, **kw)
    finally:
        torch.set_num_threads(threads)
    c = co.train_colorizer(patches, mode, centres, w, **{**kw, "seed": 12})
    np.testing.assert_array_equal(a.losses, b.losses)
    for pa, pb in zip(a.net.parameters(), b.net.parameters()):
        assert torch.equal(pa, pb)
    assert not np.array_equal(a.losses, c.losses)
    assert torch.get_num_threads() == threads


def test_rebalanced_loss_is_the_weighted_classification_loss(patches, centres):
    """Uniform weights of one: the rebalanced run is the classification run."""
    kw = dict(steps=3, width=4, batch_size=4, seed=2)
    a = co.train_colorizer(patches, "classification", centres, **kw)
    b = co.train_colorizer(patches, "rebalanced", centres, np.ones(len(centres)), **kw)
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-6)


def test_regression_learns_a_constant_colour():
    """Planted truth: every pixel has ab = (30, -20); regression must find it."""
    g = np.random.default_rng(3)
    P = np.zeros((16, 16, 16, 3))
    P[..., 0] = g.uniform(20, 80, (16, 16, 16))
    P[..., 1], P[..., 2] = 30.0, -20.0
    run = co.train_colorizer(P, "regression", co.in_gamut_bins(), steps=300, width=4, lr=1e-2, seed=0)
    ab, probs = co.predict(run, P[0, ..., 0])
    assert probs is None and ab.shape == (16, 16, 2)
    np.testing.assert_allclose(ab.mean((0, 1)), [30.0, -20.0], atol=2.0)


def test_predict_returns_normalised_distributions(patches, centres):
    run = co.train_colorizer(patches, "classification", centres, steps=2, width=4)
    ab, z = co.predict(run, patches[0, ..., 0], T=0.38)
    assert ab.shape == (16, 16, 2) and z.shape == (16, len(centres))
    np.testing.assert_allclose(z.sum(1), 1.0, atol=1e-12)
    np.testing.assert_allclose(co.upsample(ab[::4, ::4], (16, 16)).shape, (16, 16, 2))


# --- error paths ----------------------------------------------------------------------


def test_error_paths(patches, centres):
    with pytest.raises(ValueError, match="definition"):
        co.in_gamut_bins(definition="convex")
    with pytest.raises(ValueError, match="step"):
        co.ab_grid(step=0)
    with pytest.raises(ValueError, match="ab must have shape"):
        co.nearest_bin(np.zeros((3, 3)), centres)
    with pytest.raises(TypeError, match="ab must be a numeric array"):
        co.soft_encode(object(), centres)
    with pytest.raises(ValueError, match="n_neighbors"):
        co.soft_encode(np.zeros((1, 2)), centres[:3], n_neighbors=5)
    with pytest.raises(ValueError, match="sigma"):
        co.soft_encode(np.zeros((1, 2)), centres, sigma=0.0)
    with pytest.raises(ValueError, match="lam"):
        co.rebalancing_weights([0.5, 0.5], lam=1.5)
    with pytest.raises(ValueError, match="p_tilde"):
        co.rebalancing_weights([0.5, 0.6])
    with pytest.raises(ValueError, match="lam = 0"):
        co.rebalancing_weights([1.0, 0.0], lam=0.0)
    with pytest.raises(ValueError, match="T must be"):
        co.annealed_mean(np.ones((1, len(centres))), centres, T=-0.1)
    with pytest.raises(ValueError, match="probs must have shape"):
        co.annealed_mean(np.ones((1, 5)), centres)
    with pytest.raises(ValueError, match="non-negative"):
        co.annealed_mean(-np.ones((1, len(centres))), centres)
    with pytest.raises(ValueError, match="same shape"):
        co.auc_accuracy(np.zeros((3, 2)), np.zeros((4, 2)), centres)
    with pytest.raises(ValueError, match="names"):
        co.load_photos(["lena"])
    with pytest.raises(TypeError, match="names"):
        co.load_photos("chelsea")
    with pytest.raises(ValueError, match="images\\[0\\]"):
        co.extract_patches([np.zeros((8, 8, 3))], 16, 2)
    with pytest.raises(ValueError, match="mode"):
        co.train_colorizer(patches, "ranking", centres, steps=1)
    with pytest.raises(ValueError, match="weights must be given"):
        co.train_colorizer(patches, "rebalanced", centres, steps=1)
    with pytest.raises(ValueError, match="weights must be"):
        co.train_colorizer(patches, "rebalanced", centres, np.ones(3), steps=1)
    with pytest.raises(ValueError, match="patches"):
        co.train_colorizer(patches[..., :2], "regression", centres, steps=1)
    with pytest.raises(TypeError, match="seed"):
        co.train_colorizer(patches, "regression", centres, steps=1, seed=1.5)
    with pytest.raises(TypeError, match="run"):
        co.predict("net", np.zeros((8, 8)))
    with pytest.raises(ValueError, match="ab_image"):
        co.local_variation(np.zeros((1, 4, 2)))


def test_hue_agreement_rewards_the_right_hue_only():
    g = np.random.default_rng(3)
    t = g.normal(0, 30, size=(2000, 2))
    assert co.hue_agreement(t, t) == pytest.approx(co.chroma(t).mean())
    assert co.hue_agreement(-t, t) == pytest.approx(-co.chroma(t).mean())
    # a constant colour of random hue: mean projection near 0 (isotropic truth)
    rot = np.column_stack([-t[:, 1], t[:, 0]])  # every colour turned by 90 degrees
    assert abs(co.hue_agreement(rot, t)) < 1e-9
    assert co.hue_agreement(np.zeros_like(t), t) == 0.0
    with pytest.raises(ValueError, match="one shape"):
        co.hue_agreement(t[:5], t)


def test_pooled_oracle_keeps_blockwise_constant_images_and_desaturates_mixtures():
    flat = np.zeros((16, 16, 2))
    flat[:8, :, 0] = 40.0  # constant within every 4 x 4 block
    up = co.pooled_oracle(flat)
    assert up.shape == flat.shape
    # a checkerboard of opposite colours averages to gray in every block
    chk = np.zeros((16, 16, 2))
    chk[..., 0] = 50.0 * (-1.0) ** np.add.outer(np.arange(16), np.arange(16))
    assert np.abs(co.pooled_oracle(chk)).max() < 1e-9
    # its chroma never exceeds the truth's on average (Jensen, then a convex upsampling)
    img = np.random.default_rng(0).normal(0, 30, size=(21, 13, 2))
    assert co.chroma(co.pooled_oracle(img)).mean() <= co.chroma(img).mean()
    with pytest.raises(ValueError, match="shape"):
        co.pooled_oracle(np.zeros((4, 4)))


def test_device_option_is_validated_and_cpu_changes_no_number():
    lab = co.photo_lab(co.load_photos(["chelsea"])["chelsea"], size=48)
    P = co.extract_patches([lab], 16, 6, seed=0)
    centres = co.in_gamut_bins()
    a = co.train_colorizer(P, "classification", centres, steps=3, width=4, seed=0)
    b = co.train_colorizer(P, "classification", centres, steps=3, width=4, seed=0, device="cpu")
    assert np.array_equal(a.losses, b.losses)
    with pytest.raises(ValueError, match="device must be one of"):
        co.train_colorizer(P, "regression", centres, steps=1, width=4, device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no GPU"):
            co.train_colorizer(P, "regression", centres, steps=1, width=4, device="cuda")
