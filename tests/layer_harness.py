"""The one harness every layer test calls (fkeras' counterpart of Keras' `run_layer_test`).

It checks, for one layer and input shape: build (unbuilt use fails clearly, build is
deterministic and idempotent), output shape and dtype against `compute_output_shape` and the
expected shape, the config round trip through JSON and the registry, a jitted training step
with optax that lowers a loss, `jax.grad` with respect to the inputs, `jax.vmap`, freezing with
`trainable=False`, use inside `fk.Sequential`, and mixed precision (`dtype="mixed_bfloat16"`:
float32 weights, bfloat16 outputs close to the float32 ones, float32 gradients).
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fkeras as fk


def _random_inputs(input_shape, batch: int, seed: int = 0, dtype=jnp.float32):
    rng = np.random.default_rng(seed)
    if isinstance(input_shape, list):
        return [_random_inputs(s, batch, seed + i, dtype) for i, s in enumerate(input_shape)]
    shape = (batch, *input_shape[1:])
    return jnp.asarray(rng.normal(size=shape), dtype)


def tree_allclose(a, b, rtol=1e-6, atol=1e-6) -> bool:
    return all(
        np.allclose(x, y, rtol=rtol, atol=atol)
        for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    )


def run_layer_test(
    layer: fk.layers.Layer,
    input_shape,
    expected_output_shape,
    *,
    batch: int = 3,
    expected_num_params: int | None = None,
    expected_output_dtype=jnp.float32,
    trains: bool | None = None,
    training_key: bool = False,
    skip_mixed_precision: str | None = None,
):
    """Run the shared checks on `layer` (unbuilt) for inputs of `input_shape` (batch first,
    `None` allowed). `expected_output_shape` uses `None` for the batch dimension.

    `trains`: whether a training step must lower the loss (default: the layer has parameters).
    `training_key`: the layer needs `key=` in training mode (Dropout).
    `skip_mixed_precision`: the reason this layer opts out of the mixed-precision check (which
    runs for every layer with floating outputs otherwise).
    """
    key = jax.random.key(0)
    x = _random_inputs(input_shape, batch)

    # ---- build
    if layer.has_weights:
        assert not layer.built
        with pytest.raises(fk.NotBuiltError, match="build"):
            layer(x)
    built = layer.build(input_shape, key)
    assert built.built
    assert built.build(input_shape, jax.random.key(1)) is built, "build must be idempotent"
    assert tree_allclose(built, layer.build(input_shape, key), rtol=0, atol=0), "deterministic"
    if expected_num_params is not None:
        assert built.count_params() == expected_num_params

    # ---- output shape and dtype, eager and jitted
    predicted = layer.compute_output_shape(input_shape)
    assert predicted == expected_output_shape, (predicted, expected_output_shape)
    y = built(x)
    concrete = jax.tree_util.tree_map(
        lambda s: tuple(batch if d is None else d for d in s),
        expected_output_shape,
        is_leaf=lambda s: isinstance(s, tuple),
    )
    assert jax.tree_util.tree_map(lambda a: tuple(a.shape), y) == concrete
    for leaf in jax.tree_util.tree_leaves(y):
        assert leaf.dtype == expected_output_dtype
    y_jit = jax.jit(lambda m, x: m(x))(built, x)
    assert tree_allclose(y, y_jit, rtol=1e-5, atol=1e-6)

    # ---- config round trip (JSON and the registry); same weights give the same outputs
    config = built.get_config()
    restored = type(layer).from_config(json.loads(json.dumps(config)))
    assert restored.get_config() == config
    via_registry = fk.saving.deserialize(json.loads(json.dumps(fk.saving.serialize(built))))
    assert type(via_registry) is type(layer) and via_registry.get_config() == config
    rebuilt = restored.build(input_shape, jax.random.key(7)).set_weights(built.get_weights())
    assert tree_allclose(rebuilt(x), y, rtol=0, atol=0)

    # ---- a jitted training step with optax lowers a loss
    params, state, static = fk.partition(built)
    n_params = len(jax.tree_util.tree_leaves(params))
    if trains is None:
        trains = n_params > 0
    step_key = jax.random.key(3) if training_key else None
    target = jax.tree_util.tree_map(
        lambda a: jnp.asarray(np.random.default_rng(1).normal(size=a.shape), a.dtype), y
    )

    def loss_fn(params):
        model = fk.combine(params, state, static)
        out, _ = model.apply(x, training=True, key=step_key)
        return sum(
            jnp.mean((o - t) ** 2)
            for o, t in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(target))
        )

    optimizer = optax.sgd(1e-2)
    opt_state = optimizer.init(params)

    @jax.jit
    def train_step(params, opt_state):
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss, grads

    new_params, _, loss0, grads = train_step(params, opt_state)
    assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(grads))
    if trains:
        assert n_params > 0
        loss1 = loss_fn(new_params)
        assert loss1 < loss0, f"a training step did not lower the loss: {loss0} -> {loss1}"

    # ---- grad with respect to the inputs, eager and under jit (inside jit constants become
    # tracers, which can change which primitives JAX picks: MaxPooling's gradient once failed
    # only under jit)
    def input_loss(x):
        return sum(jnp.sum(o) for o in jax.tree_util.tree_leaves(built(x)))

    input_grads = jax.grad(input_loss)(x)
    jit_grads = jax.jit(jax.grad(input_loss))(x)
    assert tree_allclose(input_grads, jit_grads, rtol=1e-5, atol=1e-5)
    assert jax.tree_util.tree_map(jnp.shape, input_grads) == jax.tree_util.tree_map(jnp.shape, x)
    assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(input_grads))

    # ---- vmap over an extra leading axis matches a Python loop
    xs = _random_inputs(input_shape, 2 * batch, seed=5)
    xs = jax.tree_util.tree_map(lambda a: a.reshape(2, batch, *a.shape[1:]), xs)
    stacked = jax.vmap(built)(xs)
    looped = [built(jax.tree_util.tree_map(lambda a, i=i: a[i], xs)) for i in range(2)]
    for i in range(2):
        assert tree_allclose(
            jax.tree_util.tree_map(lambda a, i=i: a[i], stacked), looped[i], rtol=1e-5, atol=1e-5
        )

    # ---- trainable=False freezes: no parameters, all weights are state
    frozen = built.with_trainable(False)
    frozen_params, frozen_state, _ = fk.partition(frozen)
    assert jax.tree_util.tree_leaves(frozen_params) == []
    assert len(jax.tree_util.tree_leaves(frozen_state)) == len(built.weights)

    # ---- the same layer inside a Sequential model that starts from fk.Input
    if not isinstance(input_shape, list):
        model = fk.Sequential([fk.Input(tuple(input_shape[1:])), layer], seed=0)
        assert tuple(model(x).shape) == concrete

    # ---- mixed precision: float32 weights, bfloat16 computation and outputs
    if skip_mixed_precision is None and jnp.issubdtype(expected_output_dtype, jnp.floating):
        _check_mixed_precision(layer, built, input_shape, x, y, training_key)
    return built


def _with_policy(config, policy: str):
    """`config` with every layer's dtype (the layer's and its sub-layers') set to `policy`."""
    if isinstance(config, dict):
        return {
            k: policy if k == "dtype" and v == "float32" else _with_policy(v, policy)
            for k, v in config.items()
        }
    if isinstance(config, list):
        return [_with_policy(v, policy) for v in config]
    return config


def _check_mixed_precision(layer, built, input_shape, x, y, training_key: bool) -> None:
    config = _with_policy(layer.get_config(), "mixed_bfloat16")
    mixed_spec = type(layer).from_config(json.loads(json.dumps(config)))
    assert mixed_spec.dtype_policy.name == "mixed_bfloat16"
    assert (mixed_spec.dtype, mixed_spec.compute_dtype) == ("float32", "bfloat16")
    assert mixed_spec.get_config() == config, "the policy must survive the config round trip"
    # The same float32 weights as the float32 layer: the weights are created in float32.
    mixed = mixed_spec.build(input_shape, jax.random.key(0)).set_weights(built.get_weights())
    for w in mixed.weights:
        if jnp.issubdtype(w.dtype, jnp.floating):
            assert w.dtype == jnp.float32, f"weights must stay float32, got {w.dtype}"
    y_mixed = mixed(x)
    assert jax.tree_util.tree_map(_dtype, y_mixed) == jax.tree_util.tree_map(
        lambda a: jnp.dtype(jnp.bfloat16) if jnp.issubdtype(a.dtype, jnp.floating) else a.dtype, y
    )
    jitted = jax.jit(lambda m, x: m(x))(mixed, x)
    assert jax.tree_util.tree_map(_dtype, jitted) == jax.tree_util.tree_map(_dtype, y_mixed)
    # bfloat16 keeps 8 bits of mantissa: the outputs agree with float32 to a few percent of
    # their scale.
    for a, b in zip(jax.tree_util.tree_leaves(y_mixed), jax.tree_util.tree_leaves(y)):
        a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
        scale = max(float(np.max(np.abs(b))), 1.0) if b.size else 1.0
        assert np.allclose(a, b, rtol=0.05, atol=0.05 * scale), np.max(np.abs(a - b))
    # Gradients reach the float32 weights in float32, and the new layer state keeps its dtype.
    params, state, static = fk.partition(mixed)
    step_key = jax.random.key(3) if training_key else None

    def loss_fn(params):
        out, updated = fk.combine(params, state, static).apply(x, training=True, key=step_key)
        loss = sum(jnp.sum(o.astype(jnp.float32)) for o in jax.tree_util.tree_leaves(out))
        return loss, fk.partition(updated).state

    grads, new_state = jax.jit(jax.grad(loss_fn, has_aux=True))(params)
    assert jax.tree_util.tree_map(_dtype, grads) == jax.tree_util.tree_map(_dtype, params)
    assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(grads))
    assert jax.tree_util.tree_map(_dtype, new_state) == jax.tree_util.tree_map(_dtype, state)


def _dtype(a):
    return jnp.dtype(a.dtype)
