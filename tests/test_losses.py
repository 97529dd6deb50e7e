"""Losses: every class and function against NumPy formulas written here (float64, from the same
float32 inputs), Keras' weighting and reduction rules, lookup by name, configs, jit, gradients,
and parity with Keras 3 itself (JAX backend)."""

import os

os.environ["KERAS_BACKEND"] = "jax"  # before anything imports Keras

import json  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fkeras import losses  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
EPS = 1e-7
B, C = 6, 4
REDUCTIONS = ["sum_over_batch_size", "sum", "mean_with_sample_weight", "none"]


def assert_close(actual, expected, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(
        np.asarray(actual, np.float64), np.asarray(expected, np.float64), rtol=rtol, atol=atol
    )


# ----------------------------------------------------------------------------- NumPy references


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_probs(p, from_logits, axis=-1):
    """Class probabilities as Keras uses them: softmax of logits, or renormalized and clipped."""
    if from_logits:
        return np_softmax(p, axis)
    return np.clip(p / p.sum(axis=axis, keepdims=True), EPS, 1 - EPS)


def np_smooth(y, ls, num_classes):
    return y * (1 - ls) + ls / num_classes


def ref_sparse_ce(y, p, from_logits=False, ignore_class=None):
    labels = y.astype(np.int64)
    probs = np_probs(p, from_logits)
    out = np.empty(labels.shape)
    for idx in np.ndindex(*labels.shape):
        if ignore_class is not None and labels[idx] == ignore_class:
            out[idx] = 0.0
        else:
            out[idx] = -np.log(probs[idx][labels[idx]])
    return out


def ref_ce(y, p, from_logits=False, label_smoothing=0.0):
    y = np_smooth(y, label_smoothing, y.shape[-1])
    return -(y * np.log(np_probs(p, from_logits))).sum(-1)


def np_bce_elementwise(z, p, from_logits):
    if from_logits:  # -z log(sigmoid(x)) - (1 - z) log(1 - sigmoid(x))
        return z * np.logaddexp(0, -p) + (1 - z) * np.logaddexp(0, p)
    q = np.clip(p, EPS, 1 - EPS)
    return -(z * np.log(q) + (1 - z) * np.log(1 - q))


def ref_bce(y, p, from_logits=False, label_smoothing=0.0):
    z = np_smooth(y, label_smoothing, 2)
    return np_bce_elementwise(z, p, from_logits).mean(-1)


def ref_cfce(y, p, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0):
    y = np_smooth(y, label_smoothing, y.shape[-1])
    probs = np_probs(p, from_logits)
    return (alpha * (1 - probs) ** gamma * -y * np.log(probs)).sum(-1)


def ref_bfce(
    y, p, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0
):
    z = np_smooth(y, label_smoothing, 2)
    prob = 1 / (1 + np.exp(-p)) if from_logits else p
    p_t = z * prob + (1 - z) * (1 - prob)
    out = (1 - p_t) ** gamma * np_bce_elementwise(z, p, from_logits)
    if apply_class_balancing:
        out = (z * alpha + (1 - z) * (1 - alpha)) * out
    return out.mean(-1)


def ref_mse(y, p):
    return ((y - p) ** 2).mean(-1)


def ref_mae(y, p):
    return np.abs(y - p).mean(-1)


def ref_mape(y, p):
    return 100 * (np.abs(y - p) / np.maximum(np.abs(y), EPS)).mean(-1)


def ref_msle(y, p):
    return ((np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(y, EPS) + 1)) ** 2).mean(-1)


def ref_huber(y, p, delta=1.0):
    e = np.abs(p - y)
    return np.where(e <= delta, 0.5 * e**2, delta * e - 0.5 * delta**2).mean(-1)


def ref_log_cosh(y, p):
    return np.log(np.cosh(p - y)).mean(-1)


def ref_kld(y, p):
    y, p = np.clip(y, EPS, 1), np.clip(p, EPS, 1)
    return (y * np.log(y / p)).sum(-1)


def ref_poisson(y, p):
    return (p - y * np.log(p + EPS)).mean(-1)


def ref_cosine(y, p, axis=-1):
    def unit(v):
        return v / np.maximum(np.linalg.norm(v, axis=axis, keepdims=True), EPS)

    return -(unit(y) * unit(p)).sum(axis)


def np_signed(y):
    return 2 * y - 1 if np.all((y == 0) | (y == 1)) else y


def ref_hinge(y, p):
    return np.maximum(1 - np_signed(y) * p, 0).mean(-1)


def ref_squared_hinge(y, p):
    return (np.maximum(1 - np_signed(y) * p, 0) ** 2).mean(-1)


def ref_categorical_hinge(y, p):
    pos = (y * p).sum(-1)
    neg = ((1 - y) * p).max(-1)
    return np.maximum(neg - pos + 1, 0)


def ref_reduce(values, weight, reduction):
    weight = np.ones_like(values) if weight is None else weight
    weight = np.broadcast_to(
        weight.reshape(weight.shape + (1,) * (values.ndim - weight.ndim)), values.shape
    )
    weighted = values * weight
    if reduction == "none":
        return weighted
    if reduction == "sum":
        return weighted.sum()
    if reduction == "sum_over_batch_size":
        return weighted.sum() / weighted.size
    return weighted.sum() / weight.sum()


# ----------------------------------------------------------------------------------- test data


def make_data(kind, seed=0, batch=B, classes=C):
    r = np.random.default_rng(seed)
    f32 = np.float32
    shape = (batch, classes)
    if kind.startswith("sparse"):
        y = r.integers(0, classes, batch).astype(np.int32)
    elif kind.startswith("onehot"):
        y = np.eye(classes, dtype=f32)[r.integers(0, classes, batch)]
    elif kind.startswith("binary"):
        y = r.integers(0, 2, shape).astype(f32)
    if kind.endswith("logits"):
        return y, (3 * r.standard_normal(shape)).astype(f32)
    if kind in ("sparse_probs", "onehot_probs"):  # not normalized: Keras renormalizes
        return y, r.uniform(0.05, 1.0, shape).astype(f32)
    if kind == "binary_probs":
        return y, r.uniform(0.02, 0.98, shape).astype(f32)
    if kind == "real":
        return r.standard_normal(shape).astype(f32), r.standard_normal(shape).astype(f32)
    if kind == "nonzero":  # targets away from 0 for percentage errors
        sign = np.where(r.random(shape) < 0.5, -1, 1)
        return (sign * r.uniform(0.2, 2.0, shape)).astype(f32), r.standard_normal(shape).astype(f32)
    if kind == "positive":
        return r.uniform(0, 3, shape).astype(f32), r.uniform(0.1, 3, shape).astype(f32)
    if kind == "dist":
        return (
            np_softmax(r.standard_normal(shape)).astype(f32),
            np_softmax(r.standard_normal(shape)).astype(f32),
        )
    if kind == "signed":
        return (
            np.where(r.random(shape) < 0.5, -1.0, 1.0).astype(f32),
            r.standard_normal(shape).astype(f32),
        )
    if kind == "binary01":
        return r.integers(0, 2, shape).astype(f32), r.standard_normal(shape).astype(f32)
    raise ValueError(kind)


L = losses
# (id, class, constructor kwargs, data kind, NumPy reference taking the same kwargs)
CASES = [
    ("scce_probs", L.SparseCategoricalCrossentropy, {}, "sparse_probs", ref_sparse_ce),
    (
        "scce_logits",
        L.SparseCategoricalCrossentropy,
        {"from_logits": True},
        "sparse_logits",
        ref_sparse_ce,
    ),
    (
        "scce_ignore",
        L.SparseCategoricalCrossentropy,
        {"from_logits": True, "ignore_class": 2},
        "sparse_logits",
        ref_sparse_ce,
    ),
    ("cce_probs", L.CategoricalCrossentropy, {}, "onehot_probs", ref_ce),
    ("cce_logits", L.CategoricalCrossentropy, {"from_logits": True}, "onehot_logits", ref_ce),
    (
        "cce_smooth",
        L.CategoricalCrossentropy,
        {"from_logits": True, "label_smoothing": 0.1},
        "onehot_logits",
        ref_ce,
    ),
    (
        "cce_smooth_probs",
        L.CategoricalCrossentropy,
        {"label_smoothing": 0.2},
        "onehot_probs",
        ref_ce,
    ),
    ("bce_probs", L.BinaryCrossentropy, {}, "binary_probs", ref_bce),
    ("bce_logits", L.BinaryCrossentropy, {"from_logits": True}, "binary_logits", ref_bce),
    (
        "bce_smooth",
        L.BinaryCrossentropy,
        {"from_logits": True, "label_smoothing": 0.1},
        "binary_logits",
        ref_bce,
    ),
    ("bce_smooth_probs", L.BinaryCrossentropy, {"label_smoothing": 0.3}, "binary_probs", ref_bce),
    ("cfce_probs", L.CategoricalFocalCrossentropy, {}, "onehot_probs", ref_cfce),
    (
        "cfce_logits",
        L.CategoricalFocalCrossentropy,
        {"from_logits": True, "alpha": 0.5, "gamma": 1.5, "label_smoothing": 0.1},
        "onehot_logits",
        ref_cfce,
    ),
    ("bfce_probs", L.BinaryFocalCrossentropy, {}, "binary_probs", ref_bfce),
    (
        "bfce_logits",
        L.BinaryFocalCrossentropy,
        {"from_logits": True, "gamma": 3.0},
        "binary_logits",
        ref_bfce,
    ),
    (
        "bfce_balanced",
        L.BinaryFocalCrossentropy,
        {"apply_class_balancing": True, "alpha": 0.3, "from_logits": True, "label_smoothing": 0.1},
        "binary_logits",
        ref_bfce,
    ),
    ("mse", L.MeanSquaredError, {}, "real", ref_mse),
    ("mae", L.MeanAbsoluteError, {}, "real", ref_mae),
    ("mape", L.MeanAbsolutePercentageError, {}, "nonzero", ref_mape),
    ("msle", L.MeanSquaredLogarithmicError, {}, "positive", ref_msle),
    ("huber", L.Huber, {}, "real", ref_huber),
    ("huber_delta", L.Huber, {"delta": 0.5}, "real", ref_huber),
    ("log_cosh", L.LogCosh, {}, "real", ref_log_cosh),
    ("kld", L.KLDivergence, {}, "dist", ref_kld),
    ("poisson", L.Poisson, {}, "positive", ref_poisson),
    ("cosine", L.CosineSimilarity, {}, "real", ref_cosine),
    ("cosine_axis0", L.CosineSimilarity, {"axis": 0}, "real", ref_cosine),
    ("hinge", L.Hinge, {}, "signed", ref_hinge),
    ("hinge01", L.Hinge, {}, "binary01", ref_hinge),
    ("squared_hinge", L.SquaredHinge, {}, "signed", ref_squared_hinge),
    ("squared_hinge01", L.SquaredHinge, {}, "binary01", ref_squared_hinge),
    ("categorical_hinge", L.CategoricalHinge, {}, "onehot_logits", ref_categorical_hinge),
]
CASE_IDS = [case[0] for case in CASES]
BY_ID = {case[0]: case for case in CASES}


def reference(case_id, y, p):
    _, _, kwargs, _, ref = BY_ID[case_id]
    return ref(np.asarray(y, np.float64) if y.dtype.kind == "f" else y, np.float64(p), **kwargs)


def weights(seed=1, batch=B):
    return np.random.default_rng(seed).uniform(0, 2, batch).astype(np.float32)


# ------------------------------------------------------------------------ values vs NumPy


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_per_sample_losses_match_numpy(case_id):
    _, cls, kwargs, kind, _ = BY_ID[case_id]
    y, p = make_data(kind, seed=3)
    expected = reference(case_id, y, p)
    out = cls(reduction="none", **kwargs)(y, p)
    assert out.dtype == jnp.float32
    assert out.shape == expected.shape
    assert_close(out, expected)


@pytest.mark.parametrize("case_id", CASE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weighted_reductions_match_numpy(case_id, reduction):
    _, cls, kwargs, kind, _ = BY_ID[case_id]
    y, p = make_data(kind, seed=4)
    per_sample = reference(case_id, y, p)
    w = weights() if per_sample.shape == (B,) else None
    loss = cls(reduction=reduction, **kwargs)
    expected = ref_reduce(per_sample, None if w is None else np.float64(w), reduction)
    if case_id == "scce_ignore" and reduction == "sum_over_batch_size":
        # Keras leaves ignored samples out of the count as well...
        expected = (per_sample * w).sum() / (y != 2).sum()
    if case_id == "scce_ignore" and reduction == "mean_with_sample_weight":
        # ... and out of the sum of weights.
        expected = (per_sample * w).sum() / w[y != 2].sum()
    assert_close(loss(y, p, sample_weight=w), expected)


FUNCTIONS = {
    "scce_logits": lambda y, p: L.sparse_categorical_crossentropy(y, p, from_logits=True),
    "scce_ignore": lambda y, p: L.sparse_categorical_crossentropy(
        y, p, from_logits=True, ignore_class=2
    ),
    "cce_smooth": lambda y, p: L.categorical_crossentropy(
        y, p, from_logits=True, label_smoothing=0.1
    ),
    "cce_probs": L.categorical_crossentropy,
    "bce_probs": L.binary_crossentropy,
    "bce_smooth": lambda y, p: L.binary_crossentropy(y, p, from_logits=True, label_smoothing=0.1),
    "cfce_probs": L.categorical_focal_crossentropy,
    "bfce_balanced": lambda y, p: L.binary_focal_crossentropy(
        y, p, apply_class_balancing=True, alpha=0.3, from_logits=True, label_smoothing=0.1
    ),
    "mse": L.mean_squared_error,
    "mae": L.mean_absolute_error,
    "mape": L.mean_absolute_percentage_error,
    "msle": L.mean_squared_logarithmic_error,
    "huber_delta": lambda y, p: L.huber(y, p, delta=0.5),
    "log_cosh": L.log_cosh,
    "kld": L.kl_divergence,
    "poisson": L.poisson,
    "cosine_axis0": lambda y, p: L.cosine_similarity(y, p, axis=0),
    "hinge01": L.hinge,
    "squared_hinge": L.squared_hinge,
    "categorical_hinge": L.categorical_hinge,
}


@pytest.mark.parametrize("case_id", sorted(FUNCTIONS))
def test_function_forms_match_numpy(case_id):
    y, p = make_data(BY_ID[case_id][3], seed=5)
    assert_close(FUNCTIONS[case_id](y, p), reference(case_id, y, p))


@pytest.mark.parametrize(
    "alias, fn",
    [
        ("mse", "mean_squared_error"),
        ("mae", "mean_absolute_error"),
        ("mape", "mean_absolute_percentage_error"),
        ("msle", "mean_squared_logarithmic_error"),
        ("kld", "kl_divergence"),
    ],
)
def test_function_aliases(alias, fn):
    assert getattr(L, alias) is getattr(L, fn)


def test_known_values_from_keras_docs():
    # Values printed in Keras' own docstrings.
    y_true, y_pred = np.array([[0, 1, 0], [0, 0, 1]]), np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    assert_close(L.CategoricalCrossentropy()(y_true, y_pred), 1.177, rtol=1e-3)
    assert_close(L.SparseCategoricalCrossentropy()([1, 2], y_pred), 1.177, rtol=1e-3)
    assert_close(
        L.SparseCategoricalCrossentropy(reduction=None)([1, 2], y_pred), [0.0513, 2.303], rtol=1e-3
    )
    assert_close(L.CategoricalFocalCrossentropy()(y_true, y_pred), 0.23315276, rtol=1e-5)


# ----------------------------------------------------------------------- weighting and shapes


def padded(kind, seed, real=4):
    """A batch of B rows whose last B - real rows repeat earlier rows and weigh 0."""
    y, p = make_data(kind, seed=seed)
    y[real:], p[real:] = y[: B - real], p[: B - real]
    w = weights(seed=seed + 1)
    w[real:] = 0.0
    return y, p, w


@pytest.mark.parametrize("case_id", [c for c in CASE_IDS if c != "cosine_axis0"])  # per sample
def test_zero_weight_padding_leaves_sum_unchanged(case_id):
    _, cls, kwargs, kind, _ = BY_ID[case_id]
    real = 4
    y, p, w = padded(kind, seed=6, real=real)
    # The unpadded batch's reductions, from NumPy on the real rows only.
    per_sample = reference(case_id, y[:real], p[:real])
    w_real = np.float64(w[:real])
    assert_close(cls(reduction="sum", **kwargs)(y, p, w), (per_sample * w_real).sum())
    mws = cls(reduction="mean_with_sample_weight", **kwargs)(y, p, w)
    if case_id == "scce_ignore":
        w_real = w_real * (y[:real] != 2)
    assert_close(mws, (per_sample * w_real).sum() / w_real.sum())
    if case_id != "scce_ignore":
        # sum_over_batch_size counts padded rows: rescaled by B / real, it is the real mean.
        sobs = cls(**kwargs)(y, p, w)
        assert_close(sobs * B / real, (per_sample * w_real).sum() / real)


@pytest.mark.parametrize("case_id", ["scce_logits", "mse"])
def test_padded_batch_equals_unpadded_batch(case_id):
    _, cls, kwargs, kind, _ = BY_ID[case_id]
    y, p, w = padded(kind, seed=7)
    loss = cls(reduction="sum", **kwargs)
    assert_close(loss(y, p, w), loss(y[:4], p[:4], w[:4]))


def test_sample_weight_shapes():
    y, p = make_data("real", seed=8)
    per_sample = ref_mse(np.float64(y), np.float64(p))
    w = weights(seed=9)
    loss = L.MeanSquaredError(reduction="sum")
    for sw in (w, w[:, None], 2.5):
        assert_close(loss(y, p, sample_weight=sw), (per_sample * np.squeeze(sw)).sum())
    with pytest.raises(ValueError, match=r"sample_weight.*Received: sample_weight.shape=\(5,\)"):
        loss(y, p, sample_weight=np.ones(5))


def test_sequence_outputs_keep_time_axis():
    r = np.random.default_rng(10)
    T = 5
    logits = r.standard_normal((B, T, C)).astype(np.float32)
    labels = r.integers(0, C, (B, T))
    w = weights(seed=11)
    loss = L.SparseCategoricalCrossentropy(from_logits=True, reduction="none")
    per_step = ref_sparse_ce(labels, np.float64(logits), from_logits=True)
    assert loss(labels, logits).shape == (B, T)
    assert_close(loss(labels, logits), per_step)
    assert_close(loss(labels[..., None], logits), per_step)
    for reduction in ("sum_over_batch_size", "sum", "mean_with_sample_weight"):
        got = L.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)(
            labels, logits, sample_weight=w
        )
        assert_close(got, ref_reduce(per_step, np.float64(w), reduction))
    # Per-timestep weights (Keras' temporal sample weights).
    wt = r.uniform(0, 1, (B, T)).astype(np.float32)
    got = L.MeanSquaredError(reduction="sum")(logits, logits + 1.0, sample_weight=wt)
    assert_close(got, wt.sum())


def test_rank_fixups_for_labels():
    r = np.random.default_rng(12)
    y = r.integers(0, 2, B).astype(np.float32)
    p = r.uniform(0.1, 0.9, (B, 1)).astype(np.float32)
    expected = ref_bce(np.float64(y[:, None]), np.float64(p))
    out = L.BinaryCrossentropy(reduction="none")(y, p)
    assert out.shape == (B,)
    assert_close(out, expected)
    assert_close(L.MeanSquaredError(reduction="none")(y, p), (y - p[:, 0]) ** 2)


def test_shape_errors_teach():
    with pytest.raises(ValueError, match=r"integer labels.*Received: y_true.shape=\(6, 2\)"):
        L.SparseCategoricalCrossentropy()(np.zeros((6, 2), np.int32), np.ones((6, 4)))
    with pytest.raises(ValueError, match="SparseCategoricalCrossentropy"):
        L.CategoricalCrossentropy()(np.zeros((6,), np.int32), np.ones((6, 4)))
    with pytest.raises(ValueError, match=r"broadcastable.*y_pred.shape=\(6, 4\)"):
        L.MeanSquaredError()(np.zeros((6, 3)), np.ones((6, 4)))


def test_invalid_arguments():
    with pytest.raises(ValueError, match="Received: reduction='mean_of_all'"):
        L.MeanSquaredError(reduction="mean_of_all")
    with pytest.raises(ValueError, match="label_smoothing"):
        L.CategoricalCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match="delta"):
        L.Huber(delta=-1.0)


def test_reduction_none_and_mean_aliases():
    y, p = make_data("real")
    per_sample = ref_mse(np.float64(y), np.float64(p))
    assert_close(L.MeanSquaredError(reduction=None)(y, p), per_sample)
    assert_close(L.MeanSquaredError(reduction="mean")(y, p), per_sample.mean())
    # Keras' divide_no_nan: all-zero weights give 0, not NaN.
    zero = L.MeanSquaredError(reduction="mean_with_sample_weight")(y, p, np.zeros(B))
    assert float(zero) == 0.0


def test_dtype_policy():
    y, p = make_data("real")
    assert L.MeanSquaredError()(y, jnp.asarray(p, jnp.bfloat16)).dtype == jnp.float32
    assert L.MeanSquaredError().dtype == "float32"
    assert L.MeanSquaredError(dtype="bfloat16")(y, p).dtype == jnp.bfloat16


# ------------------------------------------------------------------ crossentropy specifics


def test_from_logits_agrees_with_probabilities():
    r = np.random.default_rng(13)
    logits = r.standard_normal((B, C)).astype(np.float32)
    probs = np_softmax(np.float64(logits)).astype(np.float32)
    labels = r.integers(0, C, B)
    onehot = np.eye(C, dtype=np.float32)[labels]
    for cls, y in (
        (L.SparseCategoricalCrossentropy, labels),
        (L.CategoricalCrossentropy, onehot),
        (L.CategoricalFocalCrossentropy, onehot),
    ):
        assert_close(cls(from_logits=True)(y, logits), cls()(y, probs), rtol=1e-5, atol=1e-5)
    sig = (1 / (1 + np.exp(-np.float64(logits)))).astype(np.float32)
    for cls in (L.BinaryCrossentropy, L.BinaryFocalCrossentropy):
        assert_close(cls(from_logits=True)(onehot, logits), cls()(onehot, sig), atol=1e-5)


def test_probabilities_are_clipped_like_keras():
    # Every prediction is a confident mistake: a 0 on the true class, a 1 on a false one.
    y, _ = make_data("onehot_probs")
    p = np.roll(y, 1, axis=-1)
    # Clipped to [1e-7, float32(1 - 1e-7)]: float32 rounds 1 - 1e-7 to 1 - 1.19e-7.
    low, high = np.float64(np.float32(EPS)), np.float64(np.float32(1 - EPS))
    assert_close(L.CategoricalCrossentropy(reduction="none")(y, p), np.full(B, -np.log(low)))
    labels = y.argmax(-1)
    assert_close(L.SparseCategoricalCrossentropy(reduction="none")(labels, p), -np.log(low))
    q = np.clip(np.float64(p), low, high)
    bce = -(y * np.log(q) + (1 - y) * np.log(1 - q)).mean(-1)
    assert_close(L.BinaryCrossentropy(reduction="none")(y, p), bce)
    assert np.all(bce > 8.0)


def test_label_smoothing_formulas():
    y, logits = make_data("onehot_logits", seed=19)
    x = np.float64(logits)
    log_p = x - np.log(np.exp(x).sum(-1, keepdims=True))
    smoothed = y * 0.7 + 0.3 / C
    assert_close(
        L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.3, reduction="none")(
            y, logits
        ),
        -(smoothed * log_p).sum(-1),
    )
    z = y * 0.7 + 0.15
    assert_close(
        L.BinaryCrossentropy(from_logits=True, label_smoothing=0.3, reduction="none")(y, logits),
        np_bce_elementwise(z, x, True).mean(-1),
    )


def test_ignore_class_zeroes_and_masks():
    r = np.random.default_rng(14)
    logits = r.standard_normal((B, C)).astype(np.float32)
    labels = np.array([0, 255, 1, 255, 3, 2])  # 255: padding label, out of range on purpose
    w = weights(seed=15)
    valid = labels != 255
    per_sample = ref_sparse_ce(labels, np.float64(logits), True, ignore_class=255)
    loss = L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255, reduction="none")
    out = loss(labels, logits)
    assert_close(out, per_sample)
    assert np.all(np.asarray(out)[~valid] == 0.0)
    sobs = L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)
    assert_close(sobs(labels, logits, w), (per_sample * w).sum() / valid.sum())
    mws = L.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=255, reduction="mean_with_sample_weight"
    )
    assert_close(mws(labels, logits, w), (per_sample * w).sum() / w[valid].sum())
    assert_close(mws(labels, logits), per_sample.sum() / valid.sum())
    # Gradients stay finite with ignored labels, from probabilities too.
    probs = np_softmax(np.float64(logits)).astype(np.float32)
    loss = L.SparseCategoricalCrossentropy(ignore_class=255)
    grad = jax.jit(jax.grad(lambda q: loss(labels, q)))(probs)
    assert np.all(np.isfinite(grad))
    assert np.all(np.asarray(grad)[~valid] == 0.0)


@pytest.mark.parametrize("bad_label", [C, C + 7, -1])
@pytest.mark.parametrize("jit", [False, True])
def test_out_of_range_sparse_labels_give_nan(bad_label, jit):
    r = np.random.default_rng(16)
    logits = r.standard_normal((B, C)).astype(np.float32)
    labels = r.integers(0, C, B)
    labels[2] = bad_label
    loss = L.SparseCategoricalCrossentropy(from_logits=True, reduction="none")
    out = np.asarray((jax.jit(loss) if jit else loss)(labels, logits))
    assert np.isnan(out[2])
    ok = np.arange(B) != 2
    assert_close(out[ok], ref_sparse_ce(labels[ok], np.float64(logits[ok]), True))
    assert np.isnan(float(L.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)))


def test_hinge_label_conversion_is_batchwise():
    p = np.array([[0.5], [-0.5]], np.float32)
    # All labels in {0, 1}: mapped to {-1, 1}.
    assert_close(L.Hinge(reduction="none")([[0.0], [1.0]], p), [1.5, 1.5])
    # Labels in {-1, 1}: used as given.
    assert_close(L.Hinge(reduction="none")([[-1.0], [1.0]], p), [1.5, 1.5])
    # All ones: {0, 1} and {-1, 1} agree.
    assert_close(L.Hinge(reduction="none")([[1.0], [1.0]], p), [0.5, 1.5])


# ------------------------------------------------------------------------ lookup and configs


NAME_TO_CLASS = {
    "sparse_categorical_crossentropy": L.SparseCategoricalCrossentropy,
    "categorical_crossentropy": L.CategoricalCrossentropy,
    "binary_crossentropy": L.BinaryCrossentropy,
    "categorical_focal_crossentropy": L.CategoricalFocalCrossentropy,
    "binary_focal_crossentropy": L.BinaryFocalCrossentropy,
    "mean_squared_error": L.MeanSquaredError,
    "mean_absolute_error": L.MeanAbsoluteError,
    "mean_absolute_percentage_error": L.MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": L.MeanSquaredLogarithmicError,
    "huber": L.Huber,
    "log_cosh": L.LogCosh,
    "kl_divergence": L.KLDivergence,
    "poisson": L.Poisson,
    "cosine_similarity": L.CosineSimilarity,
    "hinge": L.Hinge,
    "squared_hinge": L.SquaredHinge,
    "categorical_hinge": L.CategoricalHinge,
    "mse": L.MeanSquaredError,
    "MSE": L.MeanSquaredError,
    "mae": L.MeanAbsoluteError,
    "mape": L.MeanAbsolutePercentageError,
    "msle": L.MeanSquaredLogarithmicError,
    "kld": L.KLDivergence,
    "bce": L.BinaryCrossentropy,
}
CLASSES = sorted({cls for cls in NAME_TO_CLASS.values()}, key=lambda cls: cls.__name__)
DEFAULT_NAMES = {
    L.SparseCategoricalCrossentropy: "sparse_categorical_crossentropy",
    L.CategoricalCrossentropy: "categorical_crossentropy",
    L.BinaryCrossentropy: "binary_crossentropy",
    L.CategoricalFocalCrossentropy: "categorical_focal_crossentropy",
    L.BinaryFocalCrossentropy: "binary_focal_crossentropy",
    L.MeanSquaredError: "mean_squared_error",
    L.MeanAbsoluteError: "mean_absolute_error",
    L.MeanAbsolutePercentageError: "mean_absolute_percentage_error",
    L.MeanSquaredLogarithmicError: "mean_squared_logarithmic_error",
    L.Huber: "huber_loss",
    L.LogCosh: "log_cosh",
    L.KLDivergence: "kl_divergence",
    L.Poisson: "poisson",
    L.CosineSimilarity: "cosine_similarity",
    L.Hinge: "hinge",
    L.SquaredHinge: "squared_hinge",
    L.CategoricalHinge: "categorical_hinge",
}


@pytest.mark.parametrize("name", sorted(NAME_TO_CLASS))
def test_get_by_function_name_or_alias(name):
    loss = L.get(name)
    assert type(loss) is NAME_TO_CLASS[name]
    assert loss.reduction == "sum_over_batch_size"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_get_by_class_name_and_default_name(cls):
    assert type(L.get(cls.__name__)) is cls
    assert type(L.get(cls)) is cls
    assert cls().name == DEFAULT_NAMES[cls]


def test_get_instances_dicts_callables_and_none():
    loss = L.Huber(delta=3.0)
    assert L.get(loss) is loss
    assert L.get(None) is None
    rebuilt = L.get({"class_name": "Huber", "config": {"delta": 2.0}})
    assert isinstance(rebuilt, L.Huber) and rebuilt.delta == 2.0

    def l4(y_true, y_pred):
        return jnp.mean((y_true - y_pred) ** 4, axis=-1)

    wrapped = L.get(l4)
    assert isinstance(wrapped, L.LossFunctionWrapper) and wrapped.name == "l4"
    y, p = make_data("real")
    assert_close(wrapped(y, p), (np.float64(y - p) ** 4).mean())
    with pytest.raises(TypeError, match="configs never hold code"):
        wrapped.get_config()
    with pytest.raises(TypeError, match="Received: loss=3"):
        L.get(3)


def test_builtin_function_wrapper_serializes_by_name():
    wrapped = L.get(L.huber)
    config = json.loads(json.dumps(L.serialize(wrapped)))
    assert config["config"]["fn"] == "huber"
    rebuilt = L.deserialize(config)
    y, p = make_data("real")
    assert_close(rebuilt(y, p), ref_huber(np.float64(y), np.float64(p)).mean())


def test_unknown_name_error_text():
    with pytest.raises(ValueError) as info:
        L.get("xyz")
    assert "Unknown loss 'xyz'" in str(info.value)
    assert "Received: loss='xyz'" in str(info.value)
    with pytest.raises(ValueError, match="Did you mean 'mean_squared_error'"):
        L.get("mean_sqared_error")
    with pytest.raises(ValueError, match="Did you mean 'SparseCategoricalCrossentropy'"):
        L.get("SparseCategoricalCrossEntropy")


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_config_json_round_trip(case_id):
    _, cls, kwargs, kind, _ = BY_ID[case_id]
    loss = cls(reduction="sum", name="custom", **kwargs)
    config = json.loads(json.dumps(L.serialize(loss)))
    assert config["class_name"] == cls.__name__
    rebuilt = L.deserialize(config)
    assert type(rebuilt) is cls
    assert type(L.get(config)) is cls
    assert rebuilt.get_config() == loss.get_config()
    assert cls.from_config(loss.get_config()).get_config() == loss.get_config()
    for key, value in kwargs.items():
        assert loss.get_config()[key] == value
    y, p = make_data(kind)
    assert_close(rebuilt(y, p), loss(y, p))


# ---------------------------------------------------------------------- jit and gradients


@pytest.fixture(scope="module")
def jitted_values():
    """Every case's `__call__` (with sample weights) inside one `jax.jit` (one compilation)."""
    inputs = {}
    for case_id, _, _, kind, _ in CASES:
        y, p = make_data(kind, seed=17)
        w = weights(seed=18) if reference(case_id, y, p).shape == (B,) else None
        inputs[case_id] = (y, p, w)

    @jax.jit
    def run(inputs):
        return {cid: BY_ID[cid][1](**BY_ID[cid][2])(*args) for cid, args in inputs.items()}

    return inputs, run(inputs)


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_jit_matches_eager(jitted_values, case_id):
    inputs, values = jitted_values
    _, cls, kwargs, _, _ = BY_ID[case_id]
    assert_close(values[case_id], cls(**kwargs)(*inputs[case_id]), rtol=1e-6, atol=1e-7)


EXTREME = np.array([[1e4, -1e4, 0.0, 30.0], [-1e4, 1e4, -30.0, 80.0]], np.float32)


@pytest.mark.parametrize(
    "cls, kwargs, labels",
    [
        (L.SparseCategoricalCrossentropy, {"from_logits": True}, np.array([1, 0])),
        (L.CategoricalCrossentropy, {"from_logits": True}, np.eye(4, dtype=np.float32)[[1, 0]]),
        (
            L.CategoricalCrossentropy,
            {"from_logits": True, "label_smoothing": 0.1},
            np.eye(4, dtype=np.float32)[[0, 2]],
        ),
        (
            L.CategoricalFocalCrossentropy,
            {"from_logits": True},
            np.eye(4, dtype=np.float32)[[1, 0]],
        ),
        (L.BinaryCrossentropy, {"from_logits": True}, np.array([[1, 1, 0, 0], [0, 1, 1, 0.0]])),
        (
            L.BinaryFocalCrossentropy,
            {"from_logits": True, "apply_class_balancing": True},
            np.array([[1, 1, 0, 0], [0, 1, 1, 0.0]]),
        ),
        (L.CategoricalHinge, {}, np.eye(4, dtype=np.float32)[[1, 0]]),
        (L.Huber, {}, np.zeros((2, 4), np.float32)),
        (L.LogCosh, {}, np.zeros((2, 4), np.float32)),
    ],
)
def test_gradients_finite_at_extreme_logits(cls, kwargs, labels):
    loss = cls(**kwargs)
    value, grad = jax.jit(jax.value_and_grad(lambda x: loss(labels, x)))(jnp.asarray(EXTREME))
    assert np.isfinite(float(value))
    assert np.all(np.isfinite(np.asarray(grad)))


def test_stable_bce_from_logits_values_at_extremes():
    x = np.array([[1e4, -1e4, 100.0, -100.0]], np.float32)
    z = np.array([[0.0, 1.0, 1.0, 0.0]], np.float32)
    assert_close(L.BinaryCrossentropy(from_logits=True, reduction="none")(z, x), [(2e4 + 0) / 4])


@pytest.mark.parametrize(
    "cls, labels, preds",
    [
        (L.SparseCategoricalCrossentropy, np.array([1, 0]), [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]),
        (L.CategoricalCrossentropy, [[0, 1, 0], [1, 0, 0.0]], [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]),
        (L.BinaryCrossentropy, [[0, 1, 0], [1, 0, 1.0]], [[0.0, 1.0, 1.0], [0.0, 1.0, 0.5]]),
        (L.BinaryFocalCrossentropy, [[0, 1, 0], [1, 0, 1.0]], [[0.0, 1.0, 1.0], [0.0, 1.0, 0.5]]),
        (L.KLDivergence, [[0, 1, 0], [1, 0, 0.0]], [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]),
        (L.CosineSimilarity, [[0, 0, 0], [1, 0, 0.0]], [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
        (L.MeanSquaredLogarithmicError, [[0, 1, 0], [1, 0, 0.0]], [[0.0, 1.0, 0.0], [0, 1, 0.0]]),
    ],
)
def test_gradients_finite_at_saturated_probabilities(cls, labels, preds):
    labels = np.asarray(labels)
    value_and_grad = jax.jit(jax.value_and_grad(lambda x: cls()(labels, x)))
    value, grad = value_and_grad(jnp.asarray(preds, jnp.float32))
    assert np.isfinite(float(value))
    assert np.all(np.isfinite(np.asarray(grad)))


# ---------------------------------------------------------------------------- Keras parity


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":  # pragma: no cover - keras imported earlier elsewhere
        pytest.skip(f"Keras parity needs the JAX backend; got {keras.backend.backend()!r}")
    return keras


KERAS_REDUCTIONS = ("none", "sum_over_batch_size", "mean_with_sample_weight")


@pytest.fixture(scope="module")
def keras_values(keras):
    """Keras' values for every case, seed and reduction, computed in one `jax.jit`."""
    inputs = {}
    for case_id, _, _, kind, _ in CASES:
        for seed in (20, 21):
            y, p = make_data(kind, seed=seed)
            w = weights(seed=seed + 10) if reference(case_id, y, p).shape == (B,) else None
            inputs[case_id, seed] = (y, p, w)

    @jax.jit
    def run(inputs):
        out = {}
        for (case_id, seed), (y, p, w) in inputs.items():
            _, cls, kwargs, _, _ = BY_ID[case_id]
            for reduction in KERAS_REDUCTIONS:
                loss = getattr(keras.losses, cls.__name__)(reduction=reduction, **kwargs)
                out[case_id, seed, reduction] = loss(y, p, sample_weight=w)
        return out

    values = run(inputs)
    return inputs, values


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_matches_keras(keras, keras_values, case_id):
    inputs, values = keras_values
    _, cls, kwargs, _, _ = BY_ID[case_id]
    for seed in (20, 21):
        y, p, w = inputs[case_id, seed]
        for reduction in KERAS_REDUCTIONS:
            ours = cls(reduction=reduction, **kwargs)(y, p, sample_weight=w)
            assert_close(ours, values[case_id, seed, reduction])
    assert cls().name == getattr(keras.losses, cls.__name__)().name


@pytest.mark.parametrize("name", sorted(NAME_TO_CLASS))
def test_names_resolve_like_keras(keras, name):
    # Keras' `get` gives a function for snake-case names and aliases; ours the class around the
    # same-named function.
    assert L.get(name).fn.__name__ == keras.losses.get(name).__name__
