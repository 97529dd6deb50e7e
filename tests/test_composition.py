"""fkeras models compose with Equinox and optax in both directions."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import fkeras as fk

L = fk.layers


def _regression_data(n=64, d=4):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x @ rng.normal(size=(d, 1)) + 0.5).astype("float32")
    return jnp.asarray(x), jnp.asarray(y)


def _train(model, x, y, steps=60):
    """A plain optax loop over `fk.partition`: the research-loop pattern."""
    params, state, static = fk.partition(model)
    optimizer = optax.adam(1e-2)
    opt_state = optimizer.init(params)

    def loss_fn(params, state):
        out, updated = fk.combine(params, state, static).apply(x, training=True)
        return jnp.mean((out - y) ** 2), fk.partition(updated).state

    @jax.jit
    def step(params, state, opt_state):
        (loss, state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, state)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), state, opt_state, loss

    losses = []
    for _ in range(steps):
        params, state, opt_state, loss = step(params, state, opt_state)
        losses.append(float(loss))
    return fk.combine(params, state, static), losses


def test_equinox_module_inside_sequential_trains():
    x, y = _regression_data()
    # Equinox layers act on one example; filter_vmap makes a batched, pure callable PyTree.
    linear = eqx.filter_vmap(eqx.nn.Linear(8, 1, key=jax.random.key(1)))
    model = fk.Sequential([fk.Input((4,)), L.Dense(8, activation="tanh"), linear], seed=0)
    params, _, _ = fk.partition(model)
    assert params.layers[1].__wrapped__.weight.shape == (1, 8)  # Equinox arrays are trainable
    trained, losses = _train(model, x, y)
    assert losses[-1] < 0.2 * losses[0]
    before = model.layers[1].__wrapped__.weight
    assert not np.allclose(trained.layers[1].__wrapped__.weight, before)
    assert model.get_weights()[-1].shape == (1,)  # Equinox arrays appear in get_weights too


class Head(eqx.Module):
    """An Equinox model with an fkeras model as a field."""

    body: fk.Sequential
    scale: jax.Array

    def __call__(self, x):
        return self.body(x) * self.scale


def test_fkeras_model_as_a_field_of_an_equinox_module_trains_with_optax():
    x, y = _regression_data()
    body = fk.Sequential([fk.Input((4,)), L.Dense(8, activation="relu"), L.Dense(1)], seed=0)
    model = Head(body, jnp.ones(()))
    optimizer = optax.adam(1e-2)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    opt_state = optimizer.init(params)

    @jax.jit
    def step(params, opt_state):
        loss, grads = jax.value_and_grad(lambda p: jnp.mean((eqx.combine(p, static)(x) - y) ** 2))(
            params
        )
        updates, opt_state = optimizer.update(grads, opt_state)
        return optax.apply_updates(params, updates), opt_state, loss

    first = None
    for _ in range(60):
        params, opt_state, loss = step(params, opt_state)
        first = float(loss) if first is None else first
    assert float(loss) < 0.2 * first
    trained = eqx.combine(params, static)
    assert isinstance(trained.body, fk.Sequential)
    assert not np.allclose(trained.body.layers[0].kernel, body.layers[0].kernel)


def test_batchnorm_state_flows_through_a_research_loop():
    x, y = _regression_data()
    model = fk.Sequential(
        [fk.Input((4,)), L.Dense(8), L.BatchNormalization(), L.Activation("relu"), L.Dense(1)],
        seed=0,
    )
    trained, losses = _train(model, x, y, steps=80)
    assert losses[-1] < 0.3 * losses[0]
    bn = trained.layers[1]
    # After 80 steps of momentum 0.99 the moving mean has moved toward the batch mean.
    batch_mean = np.asarray(trained.layers[0](x)).mean(0)
    assert np.corrcoef(np.asarray(bn.moving_mean), batch_mean)[0, 1] > 0.9
