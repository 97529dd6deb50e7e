"""Keras' mask propagation, `add_loss` (regularization) and weight constraints in training."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from layer_harness import run_layer_test

import fkeras as fk

L = fk.layers


def padded_sequences():
    x = np.random.default_rng(0).normal(size=(3, 5, 2)).astype("float32")
    x[0, 3:] = 0.0  # padding timesteps
    x[1, 1:] = 0.0
    return x


def test_masking_layer_through_the_harness():
    run_layer_test(L.Masking(), (None, 5, 2), (None, 5, 2), expected_num_params=0)


def test_masks_propagate_through_sequential_and_functional_models():
    x = padded_sequences()
    expected = np.any(x != 0, axis=-1)
    seq = fk.Sequential([fk.Input((5, 2)), L.Masking(), L.Dense(4), L.Dropout(0.1)])
    _, mask, _ = seq.apply_masked(x)
    np.testing.assert_array_equal(mask, expected)
    inputs = fk.Input((5, 2))
    masked = L.Masking()(inputs)
    # Keras 3: an elementwise merge ORs masks, and has none when an input is unmasked.
    both = L.Add()([L.Dense(3)(masked), L.Dense(3)(masked)])
    np.testing.assert_array_equal(fk.Model(inputs, both).apply_masked(x)[1], expected)
    assert fk.Model(inputs, L.Add()([L.Dense(2)(masked), inputs])).apply_masked(x)[1] is None
    # Concatenate widens masks (missing ones all-True) and reduces over the last axis.
    cat = L.Concatenate()([L.Dense(3)(masked), L.Dense(2)(inputs)])
    np.testing.assert_array_equal(fk.Model(inputs, cat).apply_masked(x)[1], np.ones((3, 5)))
    model = fk.Model(inputs, L.Flatten()(both))  # Flatten does not carry masks (as Keras)
    assert model.apply_masked(x)[1] is None


class MaskReader(L.Layer):
    """A custom layer whose `__call__` names `mask`: it receives the incoming mask."""

    has_weights = False

    def __call__(self, x, mask=None):
        return x if mask is None else x * mask[..., None]


def test_layers_that_name_mask_receive_it():
    x = padded_sequences() + 1.0  # no all-zero steps: the mask comes only from Masking(1.0)
    x[0, 3:] = 1.0
    model = fk.Sequential([fk.Input((5, 2)), L.Masking(mask_value=1.0), MaskReader()])
    y = np.asarray(model(x))
    assert np.all(y[0, 3:] == 0) and np.all(y[2] == x[2])


def test_sequence_loss_skips_masked_timesteps_as_keras():
    x = padded_sequences()
    model = fk.Sequential([fk.Input((5, 2)), L.Masking(), L.Dense(1)], seed=0)
    y = np.random.default_rng(1).normal(size=(3, 5, 1)).astype("float32")
    logs = model.compile(loss="mse").evaluate(x, y, verbose=0)
    pred = np.asarray(model(x))
    valid = np.any(x != 0, axis=-1)
    per_step = ((pred - y) ** 2).mean(-1)
    assert logs["loss"] == pytest.approx(per_step[valid].sum() / valid.sum(), rel=1e-5)


class Penalized(L.Layer):
    """Identity that adds `weight * sum(x**2)` to the loss, like an activity regularizer."""

    weight: float = L.static()
    has_weights = False

    def __init__(self, weight, **kwargs):
        super().__init__(**kwargs)
        self.weight = weight

    def __call__(self, x):
        self.add_loss(self.weight * jnp.sum(x**2))
        return x


def test_add_loss_joins_the_training_and_evaluation_loss():
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    y = np.zeros((8, 2), "float32")
    model = fk.Sequential([fk.Input((3,)), L.Dense(2), Penalized(0.5)], seed=0)
    logs = model.compile(loss="mse").evaluate(x, y, batch_size=8, verbose=0)
    pred = np.asarray(model(x))
    assert logs["loss"] == pytest.approx((pred**2).mean() + 0.5 * (pred**2).sum(), rel=1e-5)
    model(x)  # plain inference: add_loss has no collector and does nothing


class Clipped(L.Layer):
    """A dense layer whose kernel is kept in [-0.1, 0.1] by a constraint."""

    kernel: jax.Array | None
    kernel_constraint: object = L.static()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.kernel = None
        self.kernel_constraint = lambda w: jnp.clip(w, -0.1, 0.1)

    def create_weights(self, input_shape, key):
        return {"kernel": jax.random.normal(key, (input_shape[-1], 2))}

    def __call__(self, x):
        return x @ self.kernel


def test_constraints_hold_after_every_update():
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    y = 10 * np.ones((16, 2), "float32")
    model = fk.Sequential([fk.Input((3,)), Clipped()], seed=0)
    assert model.has_constraints() and np.abs(model.layers[0].kernel).max() > 0.1
    trainer = model.compile(optimizer="sgd", loss="mse")
    trainer.fit(x, y, epochs=2, verbose=0)
    kernel = np.asarray(trainer.model.layers[0].kernel)
    assert np.abs(kernel).max() <= 0.1 + 1e-7 and np.isclose(np.abs(kernel).max(), 0.1)


def test_keras_regularizers_and_constraints_on_dense():
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    y = np.zeros((8, 2), "float32")
    model = fk.Sequential(
        [
            fk.Input((3,)),
            L.Dense(
                2,
                kernel_regularizer=fk.regularizers.L1L2(l1=0.1, l2=0.2),
                bias_regularizer="l2",
                activity_regularizer="l1",
            ),
        ],
        seed=0,
    )
    layer = model.layers[0]
    logs = model.compile(loss="mse").evaluate(x, y, batch_size=8, verbose=0)
    k, b, pred = np.asarray(layer.kernel), np.asarray(layer.bias), np.asarray(model(x))
    expected = (
        (pred**2).mean()
        + 0.1 * np.abs(k).sum()
        + 0.2 * (k**2).sum()
        + 0.01 * (b**2).sum()
        + 0.01 * np.abs(pred).sum() / 8
    )
    assert logs["loss"] == pytest.approx(expected, rel=1e-5)
    config = fk.saving.deserialize(fk.saving.serialize(layer)).get_config()
    assert config == layer.get_config() and config["bias_regularizer"]["config"] == {"l2": 0.01}

    constrained = fk.Sequential(
        [
            fk.Input((3,)),
            L.Dense(4, kernel_constraint=fk.constraints.MaxNorm(0.5), bias_constraint="non_neg"),
        ]
    )
    trainer = constrained.compile(optimizer=fk.optimizers.SGD(1.0), loss="mse")
    trainer.fit(x, np.full((8, 4), -5.0, "float32"), epochs=2, verbose=0)
    kernel = np.asarray(trainer.model.layers[0].kernel)
    assert np.linalg.norm(kernel, axis=0).max() <= 0.5 + 1e-5
    assert np.asarray(trainer.model.layers[0].bias).min() >= 0


@pytest.mark.parametrize(
    "constraint, formula",
    [
        (fk.constraints.MaxNorm(1.0), lambda w, n: w * np.clip(n, 0, 1.0) / (1e-7 + n)),
        (fk.constraints.UnitNorm(), lambda w, n: w / (1e-7 + n)),
        (
            fk.constraints.MinMaxNorm(0.5, 1.0, rate=0.5),
            lambda w, n: w * (0.5 * np.clip(n, 0.5, 1.0) + 0.5 * n) / (1e-7 + n),
        ),
        (fk.constraints.NonNeg(), lambda w, n: np.maximum(w, 0)),
    ],
)
def test_constraint_formulas(constraint, formula):
    w = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    norms = np.sqrt((w**2).sum(0, keepdims=True))
    np.testing.assert_allclose(constraint(jnp.asarray(w)), formula(w, norms), rtol=1e-5)
    assert fk.constraints.get(fk.constraints.serialize(constraint)) == constraint


def test_unknown_regularizer_and_constraint_names():
    with pytest.raises(ValueError, match=r"Dense: unknown regularizer 'l3'"):
        L.Dense(2, kernel_regularizer="l3")
    with pytest.raises(ValueError, match=r"unknown constraint 'maxnorm'.*Did you mean 'max_norm'"):
        L.Dense(2, kernel_constraint="maxnorm")


def test_regularizer_and_constraint_lookup_edge_cases():
    assert fk.constraints.get(fk.constraints.MaxNorm) == fk.constraints.MaxNorm()
    assert fk.regularizers.get(fk.regularizers.L2) == fk.regularizers.L2()
    assert fk.regularizers.L1L2(l1=None, l2=0.1).l1 == 0.0
    with pytest.raises(ValueError, match="finite `l2` >= 0"):
        fk.regularizers.L2(float("nan"))
    config = fk.constraints.serialize(fk.constraints.MaxNorm(2.0, axis=(0, 1)))
    restored = fk.constraints.get(config)
    assert restored.axis == (0, 1) and hash(restored) == hash(fk.constraints.MaxNorm(2.0, (0, 1)))


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_orthogonal_regularizer_matches_keras_and_is_zero_for_orthogonal_kernels(mode):
    keras = pytest.importorskip("keras")
    w = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    got = fk.regularizers.OrthogonalRegularizer(0.03, mode=mode)(jnp.asarray(w))
    want = keras.regularizers.OrthogonalRegularizer(0.03, mode=mode)(jnp.asarray(w))
    np.testing.assert_allclose(float(got), float(want), rtol=1e-5)
    q = np.linalg.qr(np.random.default_rng(1).normal(size=(4, 4)))[0].astype("float32")
    assert float(fk.regularizers.OrthogonalRegularizer(1.0, mode=mode)(jnp.asarray(q))) < 1e-6
    reg = fk.regularizers.get("orthogonal_regularizer")
    assert reg == fk.regularizers.OrthogonalRegularizer()
    layer = fk.layers.Dense(3, kernel_regularizer=fk.regularizers.OrthogonalRegularizer(mode=mode))
    assert type(layer).from_config(layer.get_config()).kernel_regularizer.mode == mode
    with pytest.raises(ValueError, match="Received: inputs.shape=\\(2, 2, 2\\)"):
        fk.regularizers.OrthogonalRegularizer()(jnp.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="Received: mode='diag'"):
        fk.regularizers.OrthogonalRegularizer(mode="diag")
