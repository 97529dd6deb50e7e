"""Metrics against independent references (NumPy formulas, scikit-learn, Keras 3), plus the
properties the trainer relies on: streaming, merge, zero-weight padding, jit, the stateful
wrapper, `get()` and JSON configs.

Each case runs on the same small random data. Weights are in [0.5, 2], so that every sample
counts (scikit-learn decides which classes exist from the labels alone).
"""

import dataclasses
import json
import os
import re
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import metrics as skm

import fkeras.metrics as fkm

os.environ["KERAS_BACKEND"] = "jax"

F32 = np.float32
N, C = 24, 4
SPLITS = (8, 16)  # three batches of 8 (few distinct shapes keep JAX compiles, and the file, fast)
PAD = 16  # padded batch: 8 real rows + 16 zero-weight rows (the full batch shape)
NEG_INF = -1e10

pytestmark = pytest.mark.filterwarnings(
    # Raised inside Keras (variables.py `np.array(self)`), not by fkeras.
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning",
    "ignore:Explicitly requested dtype int64:UserWarning",  # inside Keras' MeanIoU
)


# -- data ------------------------------------------------------------------------------------


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(F32)


def values_data(rng, n):
    return (rng.normal(size=n).astype(F32),)


def binary_data(rng, n):
    return rng.integers(0, 2, n).astype(np.int32), rng.uniform(size=n).astype(F32)


def binary_col_data(rng, n):  # labels (n,), predictions (n, 1)
    y, p = binary_data(rng, n)
    return y, p[:, None]


def label_pairs_data(rng, n):
    return rng.integers(0, 3, n).astype(np.int32), rng.integers(0, 3, n).astype(np.int32)


def sparse_data(rng, n):
    return rng.integers(0, C, n).astype(np.int32), _softmax(rng.normal(size=(n, C)))


def sparse_col_data(rng, n):
    y, p = sparse_data(rng, n)
    return y[:, None], p


def onehot_data(rng, n):
    y, p = sparse_data(rng, n)
    return np.eye(C, dtype=F32)[y], p


def multilabel_data(rng, n):
    y = rng.integers(0, 2, (n, C)).astype(np.int32)
    y[:2] = [[1] * C, [0] * C]  # every label has both classes
    return y, rng.uniform(size=(n, C)).astype(F32)


def logits_data(rng, n):
    return rng.integers(0, 2, n).astype(np.int32), rng.normal(size=n).astype(F32) * 3


def regression_data(rng, n):
    return rng.normal(size=(n, 3)).astype(F32), rng.normal(size=(n, 3)).astype(F32)


def segmentation_data(rng, n):  # (n, 2) pixels of 3 classes, predictions as class ids
    return rng.integers(0, 3, (n, 2)).astype(np.int32), rng.integers(0, 3, (n, 2)).astype(np.int32)


def seg_probs_data(rng, n):  # predictions as probabilities over 3 classes
    return rng.integers(0, 3, n).astype(np.int32), _softmax(rng.normal(size=(n, 3)))


# -- references ------------------------------------------------------------------------------


def _w(w, times=1):
    return None if w is None else np.repeat(np.asarray(w, np.float64), times)


def ref_mean(a, w):
    return np.average(a[0], weights=w)


def ref_sum(a, w):
    return np.sum(a[0] * (1 if w is None else w))


def cube_error(y_true, y_pred):
    return jnp.abs(y_true - y_pred) ** 3


def ref_cube(a, w):
    return np.average(np.mean(np.abs(a[0] - a[1]) ** 3, axis=-1), weights=w)


def ref_topk(a, w, onehot=False):
    y = a[0].argmax(-1) if onehot else a[0].ravel()
    return skm.top_k_accuracy_score(y, a[1], k=2, labels=range(C), sample_weight=w)


def _prf(score, y, pred, w, **kw):
    return score(y, pred, sample_weight=w, zero_division=0, **kw)


def ref_topk_precision(a, w):
    y, p = a
    mask = np.zeros_like(y)
    np.put_along_axis(mask, np.argsort(-p, axis=-1)[:, :2], 1, axis=-1)
    return _prf(skm.precision_score, y.ravel(), mask.ravel(), _w(w, C))


def ref_f(a, w, average, threshold=None, beta=1.0):
    y, p = a
    if threshold is None:  # one-hot labels, argmax predictions
        y, pred, kw = y.argmax(-1), p.argmax(-1), {"labels": list(range(C))}
    else:  # multi-label indicators
        pred, kw = (p > threshold).astype(int), {}
    return skm.fbeta_score(
        y, pred, beta=beta, average=average, sample_weight=w, zero_division=0, **kw
    )


@dataclasses.dataclass
class Case:
    id: str
    make: Callable
    data: Callable
    ref: Callable
    keras: Callable | None = None  # name of / factory for the Keras 3 twin
    tol: float = 1e-5


def _k(name, **kw):
    return lambda keras: getattr(keras.metrics, name)(**kw)


CASES = [
    Case("mean", fkm.Mean, values_data, ref_mean, _k("Mean")),
    Case("sum", fkm.Sum, values_data, ref_sum, None),
    Case("wrapper", lambda: fkm.MeanMetricWrapper(cube_error), regression_data, ref_cube),
    Case(
        "accuracy",
        fkm.Accuracy,
        label_pairs_data,
        lambda a, w: skm.accuracy_score(a[0], a[1], sample_weight=w),
        _k("Accuracy"),
    ),
    Case(
        "binary_accuracy",
        fkm.BinaryAccuracy,
        binary_data,
        lambda a, w: skm.accuracy_score(a[0], a[1] > 0.5, sample_weight=w),
        None,
    ),
    Case(
        "binary_accuracy_t0.3_col",
        lambda: fkm.BinaryAccuracy(threshold=0.3),
        binary_col_data,
        lambda a, w: skm.accuracy_score(a[0], a[1][:, 0] > 0.3, sample_weight=w),
        _k("BinaryAccuracy", threshold=0.3),
    ),
    Case(
        "categorical_accuracy",
        fkm.CategoricalAccuracy,
        onehot_data,
        lambda a, w: skm.accuracy_score(a[0].argmax(-1), a[1].argmax(-1), sample_weight=w),
        _k("CategoricalAccuracy"),
    ),
    Case(
        "sparse_categorical_accuracy",
        fkm.SparseCategoricalAccuracy,
        sparse_data,
        lambda a, w: skm.accuracy_score(a[0], a[1].argmax(-1), sample_weight=w),
        None,
    ),
    Case(
        "sparse_categorical_accuracy_col",
        fkm.SparseCategoricalAccuracy,
        sparse_col_data,
        lambda a, w: skm.accuracy_score(a[0][:, 0], a[1].argmax(-1), sample_weight=w),
        _k("SparseCategoricalAccuracy"),
    ),
    Case(
        "top_k",
        lambda: fkm.TopKCategoricalAccuracy(k=2),
        onehot_data,
        lambda a, w: ref_topk(a, w, onehot=True),
        _k("TopKCategoricalAccuracy", k=2),
    ),
    Case(
        "sparse_top_k",
        lambda: fkm.SparseTopKCategoricalAccuracy(k=2),
        sparse_data,
        ref_topk,
        _k("SparseTopKCategoricalAccuracy", k=2),
    ),
    Case(
        "sparse_top_k_col",
        lambda: fkm.SparseTopKCategoricalAccuracy(k=2),
        sparse_col_data,
        ref_topk,
        None,
    ),
    Case(
        "mse",
        fkm.MeanSquaredError,
        regression_data,
        lambda a, w: skm.mean_squared_error(a[0], a[1], sample_weight=w),
        _k("MeanSquaredError"),
    ),
    Case(
        "mae",
        fkm.MeanAbsoluteError,
        regression_data,
        lambda a, w: skm.mean_absolute_error(a[0], a[1], sample_weight=w),
        None,
    ),
    Case(
        "rmse",
        fkm.RootMeanSquaredError,
        regression_data,
        lambda a, w: np.sqrt(skm.mean_squared_error(a[0], a[1], sample_weight=w)),
        _k("RootMeanSquaredError"),
    ),
    Case(
        "precision",
        fkm.Precision,
        binary_data,
        lambda a, w: _prf(skm.precision_score, a[0], a[1] > 0.5, w),
        _k("Precision"),
    ),
    Case(
        "precision_thresholds",
        lambda: fkm.Precision(thresholds=[0.3, 0.5, 0.8]),
        binary_data,
        lambda a, w: [_prf(skm.precision_score, a[0], a[1] > t, w) for t in (0.3, 0.5, 0.8)],
        _k("Precision", thresholds=[0.3, 0.5, 0.8]),
    ),
    Case(
        "precision_even_thresholds",
        lambda: fkm.Precision(thresholds=[0.0, 0.25, 0.5, 0.75, 1.0]),
        binary_data,
        lambda a, w: [
            _prf(skm.precision_score, a[0], a[1] > t, w) for t in (0.0, 0.25, 0.5, 0.75, 1.0)
        ],
        _k("Precision", thresholds=[0.0, 0.25, 0.5, 0.75, 1.0]),
    ),
    Case(
        "precision_top_k",
        lambda: fkm.Precision(top_k=2),
        multilabel_data,
        ref_topk_precision,
        _k("Precision", top_k=2),
    ),
    Case(
        "precision_class_id",
        lambda: fkm.Precision(class_id=1),
        multilabel_data,
        lambda a, w: _prf(skm.precision_score, a[0][:, 1], a[1][:, 1] > 0.5, w),
        _k("Precision", class_id=1),
    ),
    Case(
        "recall",
        fkm.Recall,
        binary_data,
        lambda a, w: _prf(skm.recall_score, a[0], a[1] > 0.5, w),
        None,
    ),
    Case(
        "recall_multilabel_t0.7",
        lambda: fkm.Recall(thresholds=0.7),
        multilabel_data,
        lambda a, w: _prf(skm.recall_score, a[0].ravel(), a[1].ravel() > 0.7, _w(w, C)),
        _k("Recall", thresholds=0.7),
    ),
    Case(
        "recall_class_id",
        lambda: fkm.Recall(class_id=2),
        multilabel_data,
        lambda a, w: _prf(skm.recall_score, a[0][:, 2], a[1][:, 2] > 0.5, w),
        _k("Recall", class_id=2),
    ),
    Case(
        "auc",
        fkm.AUC,
        binary_data,
        lambda a, w: skm.roc_auc_score(a[0], a[1], sample_weight=w),
        _k("AUC"),
        tol=1e-2,
    ),
    Case(
        "auc_pr",
        lambda: fkm.AUC(curve="PR"),
        binary_data,
        lambda a, w: skm.average_precision_score(a[0], a[1], sample_weight=w),
        _k("AUC", curve="PR"),
        tol=5e-2,
    ),
    Case(
        "auc_flattened",
        fkm.AUC,
        multilabel_data,
        lambda a, w: skm.roc_auc_score(a[0].ravel(), a[1].ravel(), sample_weight=_w(w, C)),
        _k("AUC"),
        tol=1e-2,
    ),
    Case(
        "auc_multi_label",
        lambda: fkm.AUC(multi_label=True, num_labels=C),
        multilabel_data,
        lambda a, w: skm.roc_auc_score(a[0], a[1], average="macro", sample_weight=w),
        _k("AUC", multi_label=True, num_labels=C),
        tol=1e-2,
    ),
    Case(
        "auc_from_logits",
        lambda: fkm.AUC(from_logits=True),
        logits_data,
        lambda a, w: skm.roc_auc_score(a[0], a[1], sample_weight=w),
        _k("AUC", from_logits=True),
        tol=1e-2,
    ),
    # Every `average` at least once, over both binarizations (argmax / threshold).
    *[
        Case(
            f"f1_argmax_{avg}",
            lambda avg=avg: fkm.F1Score(average=avg),
            onehot_data,
            lambda a, w, avg=avg: ref_f(a, w, avg),
            _k("F1Score", average=avg),
        )
        for avg in (None, "weighted")
    ],
    *[
        Case(
            f"f1_threshold_{avg}",
            lambda avg=avg: fkm.F1Score(average=avg, threshold=0.5),
            multilabel_data,
            lambda a, w, avg=avg: ref_f(a, w, avg, threshold=0.5),
            _k("F1Score", average=avg, threshold=0.5),
        )
        for avg in ("micro", "macro")
    ],
    Case(
        "fbeta_2_macro",
        lambda: fkm.FBetaScore(average="macro", beta=2.0, threshold=0.4),
        multilabel_data,
        lambda a, w: ref_f(a, w, "macro", threshold=0.4, beta=2.0),
        _k("FBetaScore", average="macro", beta=2.0, threshold=0.4),
    ),
    Case(
        "fbeta_0.5_argmax_weighted",
        lambda: fkm.FBetaScore(average="weighted", beta=0.5, num_classes=C),
        onehot_data,
        lambda a, w: ref_f(a, w, "weighted", beta=0.5),
        _k("FBetaScore", average="weighted", beta=0.5),
    ),
    Case(
        "mean_iou",
        lambda: fkm.MeanIoU(num_classes=3),
        segmentation_data,
        lambda a, w: skm.jaccard_score(
            a[0].ravel(), a[1].ravel(), average="macro", sample_weight=_w(w, 2)
        ),
        _k("MeanIoU", num_classes=3, dtype="float32"),
    ),
    Case(
        "mean_iou_dense_pred",
        lambda: fkm.MeanIoU(num_classes=3, sparse_y_pred=False),
        seg_probs_data,
        lambda a, w: skm.jaccard_score(a[0], a[1].argmax(-1), average="macro", sample_weight=w),
        None,
    ),
]
IDS = [c.id for c in CASES]
# One case per metric class and code path: the checks that need their own JAX compiles (no
# weights, an outer jit) run on these only, to keep the file fast.
CORE = [
    c
    for c in CASES
    if c.id
    in {
        "mean",
        "sum",
        "wrapper",
        "binary_accuracy_t0.3_col",
        "sparse_top_k",
        "rmse",
        "precision_top_k",
        "precision_even_thresholds",
        "auc",
        "auc_multi_label",
        "f1_argmax_None",
        "f1_threshold_micro",
        "mean_iou_dense_pred",
    }
]


def make_data(case, n=N, seed=0):
    rng = np.random.default_rng(seed)
    args = case.data(rng, n)
    return args, rng.uniform(0.5, 2.0, n).astype(F32)


def run(metric, args, w=None, state=None, update=None):
    update = update or metric.update
    state = metric.init() if state is None else state
    return update(state, *args, sample_weight=w)


def check(actual, expected, tol=1e-5):
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=tol, atol=tol)


def batches(args, w):
    cut = lambda x: np.split(x, SPLITS)
    return list(zip(*[cut(a) for a in args])), cut(w)


# -- each metric against an independent reference ---------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_reference_weighted(case):
    args, w = make_data(case)
    m = case.make()
    check(m.result(run(m, args, w)), case.ref(args, w), case.tol)


@pytest.mark.parametrize("case", CORE, ids=lambda c: c.id)
def test_matches_reference_unweighted(case):
    args, _ = make_data(case)
    m = case.make()
    check(m.result(run(m, args)), case.ref(args, None), case.tol)
    # The trainer's padded last batch: no user weights, weight 0 on the padded rows.
    args, _, padded, w_padded = padded_batch(case, weighted=False)
    got = m.result(run(m, padded, w_padded))
    if case.tol <= 1e-2:  # (PR-AUC vs average precision is too rough on 8 samples)
        check(got, case.ref(args, None), case.tol)
    ones = np.ones(len(args[0]), F32)  # (same as no weights, checked above; shares compiles)
    np.testing.assert_allclose(got, m.result(run(m, args, ones)), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", [c for c in CASES if c.keras is not None], ids=lambda c: c.id)
def test_matches_keras(case, keras_module):
    args, w = make_data(case)
    ours, theirs = case.make(), case.keras(keras_module)
    assert ours.name == re.sub(r"_\d+$", "", theirs.name)  # Keras uniquifies names
    ours.update_state(*args, sample_weight=w)
    # Keras' MeanIoU needs weights of the labels' shape; fkeras also broadcasts per-row weights.
    kw = np.broadcast_to(w.reshape(w.shape + (1,) * (args[0].ndim - 1)), args[0].shape)
    expected = keras_result(theirs, args, kw if case.id == "mean_iou" else w)
    check(ours.result(), expected, 1e-5)


def keras_result(metric, args, w=None):
    """Keras' result after one update, run as one jitted stateless update (fast to compile)."""
    if not getattr(metric, "_built", True):  # built on the first update: build it now
        shapes = (args[-1].shape,) if type(metric).__name__ == "AUC" else (a.shape for a in args)
        metric._build(*shapes)
    values = [v.value for v in metric.variables]
    values = jax.jit(metric.stateless_update_state)(values, *args, sample_weight=w)
    return np.asarray(metric.stateless_result(values))


@pytest.fixture(scope="module")
def keras_module():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":  # pragma: no cover - keras imported earlier elsewhere
        pytest.skip("Keras comparisons need the JAX backend")
    return keras


# -- properties the trainer relies on, for every metric ---------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_streaming_and_merge_equal_one_big_batch(case):
    args, w = make_data(case)
    m = case.make()
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(m.init()))
    whole = m.result(run(m, args, w))
    (b1, b2, b3), (w1, w2, w3) = batches(args, w)
    state = m.init()
    for batch, wb in ((b1, w1), (b2, w2), (b3, w3)):
        state = run(m, batch, wb, state)
    check(m.result(state), whole)
    merged = m.merge(m.merge(run(m, b1, w1), run(m, b2, w2)), run(m, b3, w3))
    check(m.result(merged), whole)
    check(m.result(m.merge(m.init(), run(m, args, w))), whole)


def _pad(x, extra):
    fill = np.nan if np.issubdtype(x.dtype, np.floating) else 7  # garbage in padded rows
    return np.concatenate([x, np.full((extra,) + x.shape[1:], fill, x.dtype)])


def padded_batch(case, weighted):
    """The first batch, unpadded and padded with zero-weight garbage rows (NaN or 7)."""
    args, w = make_data(case)
    args, w = [a[: SPLITS[0]] for a in args], w[: SPLITS[0]] if weighted else None
    w_pad = np.concatenate([np.ones(SPLITS[0], F32) if w is None else w, np.zeros(PAD, F32)])
    return args, w, [_pad(a, PAD) for a in args], w_pad


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_zero_weight_padding_changes_nothing(case):
    # The trainer pads the last batch and gives the padded rows weight 0 (unweighted: see above).
    args, w, padded, w_padded = padded_batch(case, weighted=True)
    m = case.make()
    expected = m.result(run(m, args, w))
    got = m.result(run(m, padded, w_padded))
    # Identical up to float32 summation order (at most an ulp or so).
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_stateful_wrapper(case):
    args, w = make_data(case)
    m = case.make()
    for batch, wb in zip(*batches(args, w)):
        m.update_state(*batch, sample_weight=wb)
    whole = m.result(run(m, args, w))
    check(m.result(), whole)
    m.reset_state()
    check(m.result(), m.result(m.init()))
    check(m(*args, sample_weight=w), whole)  # __call__ = update_state + result


JIT_IDS = {
    "mean",
    "wrapper",
    "binary_accuracy_t0.3_col",
    "sparse_top_k_col",
    "rmse",
    "precision_top_k",
    "auc_multi_label",
    "f1_argmax_None",
    "mean_iou_dense_pred",
}


@pytest.mark.parametrize("case", [c for c in CASES if c.id in JIT_IDS], ids=lambda c: c.id)
def test_jit_matches_eager(case):
    args, w, padded, w_padded = padded_batch(case, weighted=True)
    m = case.make()
    eager = run(m, args, w)
    jitted = jax.jit(m.update)(m.init(), *padded, sample_weight=w_padded)
    assert jax.tree.structure(eager) == jax.tree.structure(jitted)
    for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted)):
        assert a.dtype == b.dtype == jnp.float32 and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_config_json_round_trip(case):
    args, w = make_data(case)
    m = case.make()
    if isinstance(m, fkm.MeanMetricWrapper) and type(m) is fkm.MeanMetricWrapper:
        with pytest.raises(TypeError, match="neither a built-in"):
            fkm.serialize(m)
        return
    blob = json.loads(json.dumps(fkm.serialize(m)))
    clone = fkm.get(blob)
    assert type(clone) is type(m) and clone.name == m.name
    assert clone.get_config() == m.get_config()
    check(clone.result(run(clone, args, w)), m.result(run(m, args, w)), 0)


# -- AUC approximates the exact scikit-learn values --------------------------------------------


@pytest.mark.parametrize("num_thresholds, roc_tol, pr_tol", [(200, 1e-2, 2e-2), (2000, 1e-3, 5e-3)])
def test_auc_converges_to_sklearn(num_thresholds, roc_tol, pr_tol):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 2000)
    p = np.clip(0.3 * y + rng.uniform(size=2000) * 0.7, 0, 1).astype(F32)
    w = rng.uniform(0.5, 2.0, 2000).astype(F32)
    roc = fkm.AUC(num_thresholds=num_thresholds)
    pr = fkm.AUC(num_thresholds=num_thresholds, curve="PR")
    check(roc.result(run(roc, (y, p), w)), skm.roc_auc_score(y, p, sample_weight=w), roc_tol)
    check(pr.result(run(pr, (y, p), w)), skm.average_precision_score(y, p, sample_weight=w), pr_tol)


def test_auc_edges_and_explicit_thresholds(keras_module):
    y = np.array([0, 0, 1, 1, 1, 0], np.int32)
    p = np.array([0.0, 1.0, 1.0, 0.0, 0.7, 0.2], F32)  # 0 and 1 land in the epsilon buckets
    for kwargs in (
        {},
        {"thresholds": [0.1, 0.5, 0.9]},
        {"curve": "PRGAIN"},
        {"curve": "PR", "summation_method": "majoring"},
        {"curve": "ROC", "summation_method": "minoring"},
    ):
        m, k = fkm.AUC(**kwargs), keras_module.metrics.AUC(**kwargs)
        check(m.result(run(m, (y, p))), keras_result(k, (y, p)))
    assert fkm.AUC(thresholds=[0.1, 0.5, 0.9]).num_thresholds == 5
    assert fkm.AUC(num_thresholds=3).thresholds == [-1e-7, 0.5, 1 + 1e-7]


# -- shapes known only at the first update ------------------------------------------------------


def test_state_sized_at_first_update_when_classes_unknown():
    rng = np.random.default_rng(2)
    (y, p), w = onehot_data(rng, 8), rng.uniform(0.5, 2, 8).astype(F32)
    fixed, lazy = fkm.F1Score(num_classes=C), fkm.F1Score()
    assert fixed.init()["tp"].shape == (C,) and lazy.init()["tp"].shape == (0,)
    assert fkm.F1Score(average="micro").init()["tp"].shape == ()
    state = jax.jit(lazy.update)(lazy.init(), y, p, sample_weight=w)
    assert state["tp"].shape == (C,)
    check(lazy.result(state), fixed.result(run(fixed, (y, p), w)), 0)
    assert lazy.merge(lazy.init(), state) is state and lazy.merge(state, lazy.init()) is state
    assert lazy.result(lazy.init()).shape == (0,)

    sized = lazy.init_like(y, p, sample_weight=w)
    assert sized["tp"].shape == (C,) and float(jnp.sum(sized["tp"])) == 0.0
    assert fixed.init_like(jax.ShapeDtypeStruct(y.shape, y.dtype), p)["tp"].shape == (C,)
    mean = fkm.Mean()
    assert jax.tree.map(jnp.shape, mean.init_like(p)) == jax.tree.map(jnp.shape, mean.init())

    (y, p) = multilabel_data(rng, 8)
    assert fkm.AUC(multi_label=True).init_like(y, p)["fn"].shape == (200, C)
    auc, auc_fixed = fkm.AUC(multi_label=True), fkm.AUC(multi_label=True, num_labels=C)
    assert auc.init()["tp"].shape == (200, 0) and auc_fixed.init()["tp"].shape == (200, C)
    check(auc.result(run(auc, (y, p))), auc_fixed.result(run(auc_fixed, (y, p))), 0)
    check(auc.result(auc.init()), 0.0, 0)
    with pytest.raises(ValueError, match="set up for 4 classes"):
        run(fixed, (y[:, :3], p[:, :3]))


def test_multi_label_auc_label_weights(keras_module):
    y, p = multilabel_data(np.random.default_rng(3), N)
    lw = [1.0, 2.0, 0.5, 0.0]
    results = {}
    for multi_label in (True, False):
        m = fkm.AUC(multi_label=multi_label, label_weights=lw)
        k = keras_module.metrics.AUC(multi_label=multi_label, label_weights=lw)
        results[multi_label] = m.result(run(m, (y, p)))
        check(results[multi_label], keras_result(k, (y, p)))
    per_label = [skm.roc_auc_score(y[:, i], p[:, i]) for i in range(C)]
    check(results[True], np.average(per_label, weights=lw), 1e-2)


# -- Keras semantics in small hand-made cases ---------------------------------------------------


def test_docstring_examples():
    m = fkm.Mean()
    m.update_state(jnp.array([1.0, 3.0, 5.0, 7.0]), sample_weight=jnp.array([1, 1, 0, 0]))
    check(m.result(), 2.0)
    m = fkm.Accuracy()
    m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]], sample_weight=[1, 1, 0, 0])
    check(m.result(), 0.5)
    m = fkm.CategoricalAccuracy()
    m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], [0.7, 0.3])
    check(m.result(), 0.3)
    m = fkm.AUC()
    m.update_state(jnp.array([0, 0, 1, 1]), jnp.array([0.0, 0.5, 0.3, 0.9]))
    check(m.result(), 0.75)
    m = fkm.MeanIoU(num_classes=2)
    m.update_state([0, 0, 1, 1], [0, 1, 0, 1], sample_weight=[0.2, 0.3, 0.4, 0.1])
    check(m.result(), (0.2 / (0.2 + 0.3 + 0.4) + 0.1 / (0.1 + 0.4 + 0.3)) / 2)
    m = fkm.F1Score(threshold=0.5)
    m.update_state(
        [[1, 1, 1], [1, 0, 0], [1, 1, 0]], [[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]]
    )
    check(m.result(), [0.5, 0.8, 2 / 3])


def test_f1_argmax_keeps_ties_and_ignores_zero_rows():
    m = fkm.F1Score(average="micro")
    # Row 0: a tie -> both count as predicted; row 1: all zeros -> nothing predicted.
    state = run(m, ([[1, 0], [0, 1]], [[0.5, 0.5], [0.0, 0.0]]))
    tp, fp, fn = 1.0, 1.0, 1.0
    check(m.result(state), 2 * tp / (2 * tp + fp + fn), 1e-6)


def test_mean_keras_reduction_rules():
    m = fkm.Mean()
    values = np.arange(6, dtype=F32).reshape(3, 2)
    # Per-sample values are averaged over non-batch axes; weights apply per sample.
    check(m.result(run(m, (values,), np.array([1.0, 0.0, 1.0], F32))), (0.5 + 4.5) / 2)
    # Elementwise weights: sum(v * w) / sum(w).
    w = np.array([[1, 0], [0, 1], [1, 1]], F32)
    check(m.result(run(m, (values,), w)), (0 + 3 + 4 + 5) / 4)
    s = fkm.Sum()
    check(s.result(run(s, (values,), np.array([1.0, 0.0, 2.0], F32))), 1 + 2 * 9)
    # A scalar weight scales the whole batch (Keras).
    check(m.result(run(m, (values,), np.float32(2.0))), values.mean())


def test_sample_weight_column_and_bad_shape():
    m = fkm.BinaryAccuracy()
    y, p = np.array([1, 0, 1], np.int32), np.array([0.9, 0.8, 0.1], F32)
    a = m.result(run(m, (y, p), np.array([1.0, 1.0, 0.0], F32)))
    b = m.result(run(m, (y, p), np.array([[1.0], [1.0], [0.0]], F32)))
    check(a, 0.5)
    check(b, 0.5)
    with pytest.raises(ValueError, match="sample_weight"):
        run(fkm.Precision(), (y, p), np.ones(4, F32))


def test_precision_recall_top_k_with_thresholds():
    y = np.array([[0, 1, 1, 0], [1, 0, 0, 1]], np.int32)
    p = np.array([[0.1, 0.9, 0.6, 0.2], [0.4, 0.8, 0.3, 0.35]], F32)
    prec = fkm.Precision(top_k=2, thresholds=0.5)
    # Top-2 and > 0.5: row 0 -> cols 1, 2 (both true); row 1 -> col 1 only (false).
    check(prec.result(run(prec, (y, p))), 2 / 3)
    rec = fkm.Recall(top_k=1)
    check(rec.result(run(rec, (y, p))), 1 / 4)


def test_empty_state_results_are_zero():
    for make in (
        fkm.Mean,
        fkm.Accuracy,
        fkm.Precision,
        fkm.Recall,
        fkm.AUC,
        fkm.RootMeanSquaredError,
    ):
        m = make()
        assert float(m.result(m.init())) == 0.0
        assert float(m.result()) == 0.0


# -- get(), names and errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name, cls, metric_name",
    [
        ("accuracy", fkm.Accuracy, "accuracy"),
        ("acc", fkm.Accuracy, "accuracy"),
        ("binary_accuracy", fkm.BinaryAccuracy, "binary_accuracy"),
        ("categorical_accuracy", fkm.CategoricalAccuracy, "categorical_accuracy"),
        ("sparse_categorical_accuracy", fkm.SparseCategoricalAccuracy, None),
        ("top_k_categorical_accuracy", fkm.TopKCategoricalAccuracy, None),
        ("sparse_top_k_categorical_accuracy", fkm.SparseTopKCategoricalAccuracy, None),
        ("mse", fkm.MeanSquaredError, "mean_squared_error"),
        ("mean_squared_error", fkm.MeanSquaredError, "mean_squared_error"),
        ("mae", fkm.MeanAbsoluteError, "mean_absolute_error"),
        ("mean_absolute_error", fkm.MeanAbsoluteError, "mean_absolute_error"),
        ("rmse", fkm.RootMeanSquaredError, "root_mean_squared_error"),
        ("root_mean_squared_error", fkm.RootMeanSquaredError, "root_mean_squared_error"),
        ("auc", fkm.AUC, "auc"),
        ("AUC", fkm.AUC, "auc"),
        ("precision", fkm.Precision, "precision"),
        ("recall", fkm.Recall, "recall"),
        ("Recall", fkm.Recall, "recall"),
        ("F1Score", fkm.F1Score, "f1_score"),
        ("FBetaScore", fkm.FBetaScore, "fbeta_score"),
    ],
)
def test_get_by_name(name, cls, metric_name):
    m = fkm.get(name)
    assert type(m) is cls
    assert m.name == (metric_name or name)


def test_get_other_identifiers_and_default_names():
    auc = fkm.AUC(curve="PR")
    assert fkm.get(auc) is auc
    assert fkm.get(None) is None
    assert type(fkm.get(fkm.Recall)) is fkm.Recall
    wrapped = fkm.get(cube_error)
    assert type(wrapped) is fkm.MeanMetricWrapper and wrapped.name == "cube_error"
    restored = fkm.get({"class_name": "AUC", "config": {"curve": "PR", "name": "pr"}})
    assert restored.curve == "PR" and restored.name == "pr"
    assert fkm.MeanIoU(3).name == "mean_io_u" and fkm.IoU(3, [0]).name == "io_u"
    assert fkm.get("mse") is not fkm.get("mse")  # a fresh metric each time


def test_get_errors():
    with pytest.raises(ValueError) as info:
        fkm.get("acuracy")
    msg = str(info.value)
    assert "Unknown metric 'acuracy'" in msg
    assert "Did you mean 'accuracy'?" in msg
    assert "Received: metric='acuracy'" in msg
    with pytest.raises(ValueError, match="Unknown metric 'xyz'.*Received: metric='xyz'"):
        fkm.get("xyz")
    with pytest.raises(ValueError, match="needs arguments"):
        fkm.get("MeanIoU")
    with pytest.raises(TypeError, match="Received: metric=3"):
        fkm.get(3)
    with pytest.raises(ValueError, match="Unknown class"):
        fkm.get({"class_name": "NoSuchMetric", "config": {}})


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: fkm.F1Score(average="samples"), "average"),
        (lambda: fkm.FBetaScore(beta=0.0), "beta"),
        (lambda: fkm.F1Score(threshold=1.5), "threshold"),
        (lambda: fkm.AUC(curve="XY"), "curve"),
        (lambda: fkm.AUC(summation_method="simpson"), "summation_method"),
        (lambda: fkm.AUC(num_thresholds=1), "num_thresholds"),
        (lambda: fkm.AUC(num_labels=3), "num_labels"),
        (lambda: fkm.Precision(thresholds=[0.5, 1.2]), "thresholds"),
        (lambda: fkm.MeanIoU(num_classes=0), "num_classes"),
        (lambda: fkm.IoU(3, target_class_ids=[3]), "target_class_ids"),
    ],
)
def test_invalid_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_registered_wrapper_function_round_trips():
    from fkeras.core.registry import register_serializable

    @register_serializable(package="test_metrics")
    def half_error(y_true, y_pred):
        return jnp.abs(y_true - y_pred) / 2

    m = fkm.MeanMetricWrapper(half_error)
    blob = json.loads(json.dumps(fkm.serialize(m)))
    assert blob["config"]["fn"] == "test_metrics>half_error"
    clone = fkm.deserialize(blob)
    check(clone.result(run(clone, ([0.0, 2.0], [1.0, 1.0]))), 0.5)
    builtin = fkm.MeanMetricWrapper(fkm.mean_squared_error, name="mse_wrapped")
    clone = fkm.deserialize(json.loads(json.dumps(fkm.serialize(builtin))))
    assert clone.fn is fkm.mean_squared_error and clone.name == "mse_wrapped"
