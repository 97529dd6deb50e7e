"""Keras' optimizer options `gradient_accumulation_steps` and `use_ema` (with `ema_momentum` and
`ema_overwrite_frequency`), and `fk.optimizers.finalize_params`.

References: one step on the averaged gradient, a big-batch step, `optax.MultiSteps`, a NumPy
recurrence for the moving average, and Keras' own optimizers."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from fkeras import optimizers as fko
from fkeras.optimizers import schedules

NAMES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "Nadam", "Lion"]
SHAPES = [(3, 2), (2,)]
_rng = np.random.default_rng(0)
W0 = [_rng.normal(size=s).astype(np.float32) for s in SHAPES]
GRADS = [[_rng.normal(size=s).astype(np.float32) for s in SHAPES] for _ in range(12)]


def grads_at(params, t):
    """A gradient that depends on the weights, so that a wrong update order shows."""
    return [0.5 * np.asarray(p) + g for p, g in zip(params, GRADS[t])]


def run(optimizer, steps, grads=grads_at, jit=True):
    """Params after each step, and the final optimizer state."""
    params = [jnp.asarray(w) for w in W0]
    state = optimizer.init(params)
    update = jax.jit(optimizer.update) if jit else optimizer.update
    history = []
    for t in range(steps):
        updates, state = update(grads(params, t), state, params)
        params = optax.apply_updates(params, updates)
        history.append([np.asarray(p) for p in params])
    return history, state


def assert_trees_close(actual, expected, rtol=1e-6, atol=1e-7):
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------- accumulation

CASES = [
    ("SGD", dict(learning_rate=0.1, momentum=0.9)),
    ("Adam", dict(learning_rate=0.05, global_clipnorm=0.5)),
    ("RMSprop", dict(learning_rate=0.05, weight_decay=0.1, clipnorm=0.3)),
    ("Nadam", dict(learning_rate=0.05)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[c[0] for c in CASES])
def test_accumulation_is_one_step_on_the_mean_gradient(name, kwargs):
    steps, groups = 3, 3
    accumulated = getattr(fko, name)(**kwargs, gradient_accumulation_steps=steps)
    plain = getattr(fko, name)(**kwargs)
    update_acc, update_plain = jax.jit(accumulated.update), jax.jit(plain.update)
    params = ref = [jnp.asarray(w) for w in W0]
    state, ref_state = accumulated.init(params), plain.init(ref)
    for group in range(groups):
        group_grads = []
        for i in range(steps):
            g = grads_at(params, group * steps + i)
            group_grads.append(g)
            updates, state = update_acc(g, state, params)
            if i < steps - 1:
                # Nothing moves on the micro-steps: the updates are exactly zero.
                for u in updates:
                    np.testing.assert_array_equal(np.asarray(u), 0.0)
            params = optax.apply_updates(params, updates)
        mean = [sum(gs[k] for gs in group_grads) / steps for k in range(len(SHAPES))]
        ref_updates, ref_state = update_plain(mean, ref_state, ref)
        ref = optax.apply_updates(ref, ref_updates)
        assert_trees_close([np.asarray(p) for p in params], [np.asarray(r) for r in ref])
    assert int(state.inner_state.mini_step) == 0


def test_accumulation_of_sgd_is_a_big_batch_step_on_a_linear_model():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = rng.normal(size=(32, 2)).astype(np.float32)

    def loss(params, xb, yb):
        kernel, bias = params
        return jnp.mean(jnp.square(xb @ kernel + bias - yb))

    grad = jax.grad(loss)
    init = [jnp.asarray(rng.normal(size=(4, 2)), jnp.float32), jnp.zeros((2,), jnp.float32)]

    def train_step(optimizer):
        @jax.jit
        def step(params, state, xb, yb):
            updates, state = optimizer.update(grad(params, xb, yb), state, params)
            return optax.apply_updates(params, updates), state

        return step

    big = fko.SGD(learning_rate=0.1)
    big_params, big_state, big_step = init, big.init(init), train_step(big)
    small = fko.SGD(learning_rate=0.1, gradient_accumulation_steps=4)
    params, state, small_step = init, small.init(init), train_step(small)
    for _ in range(3):
        big_params, big_state = big_step(big_params, big_state, x, y)
        for i in range(4):  # four micro-batches of 8 rows make the batch of 32
            rows = slice(8 * i, 8 * (i + 1))
            params, state = small_step(params, state, x[rows], y[rows])
    assert_trees_close(params, big_params, rtol=1e-5, atol=1e-6)


def test_accumulation_matches_optax_multisteps():
    ours, _ = run(fko.Adam(learning_rate=0.05, gradient_accumulation_steps=3), 9)
    multi = optax.MultiSteps(fko.Adam(learning_rate=0.05), every_k_schedule=3)
    theirs, _ = run(multi.gradient_transformation(), 9)
    for a, b in zip(ours, theirs):
        assert_trees_close(a, b, rtol=1e-5, atol=1e-6)


def test_accumulation_keeps_gradient_dtypes_and_jits_in_a_scan():
    optimizer = fko.Adam(learning_rate=0.1, gradient_accumulation_steps=2)
    params = {"w": jnp.ones((3,), jnp.bfloat16), "v": jnp.ones((2,), jnp.float32)}
    state = optimizer.init(params)
    assert state.inner_state.accumulated["w"].dtype == jnp.bfloat16

    def body(carry, g):
        params, state = carry
        grads = {"w": jnp.full((3,), g, jnp.bfloat16), "v": jnp.full((2,), g)}
        updates, state = optimizer.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), params["v"][0]

    (params, state), seen = jax.jit(lambda c: jax.lax.scan(body, c, jnp.arange(1.0, 5.0)))(
        (params, state)
    )
    assert params["w"].dtype == jnp.bfloat16
    # Adam's first step moves each weight by about the learning rate; nothing moved before.
    np.testing.assert_allclose(np.asarray(seen), [1.0, 1.0, 0.9, 0.9], rtol=1e-5)
    assert int(state.inner_state.inner_state.count) == 2


# ----------------------------------------------------------------------------- EMA


def _numpy_sgd_ema(lr, momentum, steps, frequency=None, accumulation=1):
    """Plain SGD with Keras' EMA and overwrite rule, in float64 NumPy."""
    w = [w.astype(np.float64) for w in W0]
    ema = None
    acc = [np.zeros_like(x) for x in w]
    weights, averages = [], []
    for t in range(steps):
        g = grads_at(w, t)
        if (t + 1) % accumulation == 0:
            w = [x - lr * (gi + a) / accumulation for x, gi, a in zip(w, g, acc)]
            acc = [np.zeros_like(x) for x in w]
        else:
            acc = [a + gi for a, gi in zip(acc, g)]
        iterations = t // accumulation
        if iterations == 0:
            ema = [x.copy() for x in w]
        else:
            ema = [momentum * e + (1 - momentum) * x for e, x in zip(ema, w)]
        if frequency is not None and (iterations + 1) % frequency == 0:
            w = [e.copy() for e in ema]
        weights.append(w)
        averages.append(ema)
    return weights, averages


@pytest.mark.parametrize("frequency", [None, 3])
@pytest.mark.parametrize("accumulation", [None, 2])
def test_ema_matches_numpy_recurrence(frequency, accumulation):
    optimizer = fko.SGD(
        learning_rate=0.1,
        use_ema=True,
        ema_momentum=0.8,
        ema_overwrite_frequency=frequency,
        gradient_accumulation_steps=accumulation,
    )
    expected_w, expected_ema = _numpy_sgd_ema(0.1, 0.8, 10, frequency, accumulation or 1)
    params = [jnp.asarray(w) for w in W0]
    state = optimizer.init(params)
    update = jax.jit(optimizer.update)
    for t in range(10):
        updates, state = update(grads_at(params, t), state, params)
        params = optax.apply_updates(params, updates)
        assert_trees_close(params, expected_w[t], rtol=1e-5, atol=1e-6)
        assert_trees_close(fko.finalize_params(state, params), expected_ema[t], 1e-5, 1e-6)
    if frequency is None:
        # Without overwriting, the weights and their average part ways.
        assert not np.allclose(params[0], expected_ema[-1][0], atol=1e-3)


def test_ema_overwrite_puts_the_average_into_the_weights():
    optimizer = fko.Adam(learning_rate=0.1, use_ema=True, ema_overwrite_frequency=2)
    history, state = run(optimizer, 4)
    # On an overwrite step the weights are the average itself, to float32 rounding (the
    # optimizer can only add to them: `w + (ema - w)`).
    assert_trees_close(history[-1], fko.finalize_params(state, history[-1]), 1e-6, 1e-7)
    assert not np.allclose(history[-2][0], history[-1][0])


def test_finalize_params():
    params = [jnp.asarray(w) for w in W0]
    assert fko.finalize_params(fko.Adam().init(params), params) is params
    state = fko.Adam(use_ema=True).init(params)
    # Before any step the average is the weights themselves.
    assert_trees_close(fko.finalize_params(state, params), params, 0, 0)
    with pytest.raises(ValueError, match="structure"):
        fko.finalize_params(state, {"w": params[0]})
    with pytest.raises(ValueError, match="Received: params=None"):
        fko.Adam(use_ema=True).update(params, state)


# ----------------------------------------------------------------------------- learning rate, jit


@pytest.mark.parametrize(
    "options",
    [
        dict(gradient_accumulation_steps=2),
        dict(use_ema=True),
        dict(use_ema=True, gradient_accumulation_steps=3, ema_overwrite_frequency=2),
    ],
)
def test_learning_rate_round_trip_through_the_options(options):
    optimizer = fko.SGD(learning_rate=0.1, **options)
    params = [jnp.asarray(w) for w in W0]
    state = optimizer.init(params)
    assert float(fko.get_learning_rate(state)) == pytest.approx(0.1)
    state = jax.jit(fko.set_learning_rate)(state, 0.5)
    assert float(fko.get_learning_rate(state)) == pytest.approx(0.5)
    steps = options.get("gradient_accumulation_steps") or 1
    g = [jnp.ones_like(p) for p in params]
    for _ in range(steps):
        updates, state = optimizer.update(g, state, params)
    # The applied step uses the new learning rate on the mean gradient (all ones).
    for u in updates:
        np.testing.assert_allclose(np.asarray(u), -0.5, rtol=1e-6)


def test_schedule_counts_every_call_as_keras_does():
    schedule = schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    optimizer = fko.SGD(learning_rate=schedule, gradient_accumulation_steps=2)
    params = [jnp.zeros((2,))]
    state = optimizer.init(params)
    applied = []
    for _ in range(4):
        updates, state = optimizer.update([jnp.ones((2,))], state, params)
        applied.append(float(updates[0][0]))
    # Keras evaluates the schedule at its raw iteration count: 1 and 3 on the applying calls.
    np.testing.assert_allclose(applied, [0.0, -0.1 * 0.5**1, 0.0, -0.1 * 0.5**3], rtol=1e-6)
    with pytest.raises(ValueError, match="schedule"):
        fko.set_learning_rate(state, 0.1)


@pytest.mark.parametrize("name", NAMES)
def test_every_optimizer_takes_the_options_and_jits(name):
    kwargs = dict(
        learning_rate=0.05,
        use_ema=True,
        ema_momentum=0.9,
        ema_overwrite_frequency=2,
        gradient_accumulation_steps=2,
    )
    # Four calls: two applied steps, the second of which overwrites the weights.
    eager, _ = run(getattr(fko, name)(**kwargs), 4, jit=False)
    jitted, state = run(getattr(fko, name)(**kwargs), 4, jit=True)
    assert_trees_close(jitted[-1], eager[-1])
    assert_trees_close(jitted[0], W0, 0, 0)  # the first call only accumulates
    assert isinstance(state.inner_state, fko.ParamsEmaState)
    assert isinstance(state.inner_state.inner_state, fko.GradientAccumulationState)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(gradient_accumulation_steps=0), ValueError, "gradient_accumulation_steps=0"),
        (dict(gradient_accumulation_steps=1), ValueError, "gradient_accumulation_steps=1"),
        (dict(gradient_accumulation_steps=2.0), TypeError, "gradient_accumulation_steps=2.0"),
        (dict(gradient_accumulation_steps=True), TypeError, "gradient_accumulation_steps=True"),
        (dict(use_ema=True, ema_momentum=1.5), ValueError, "ema_momentum=1.5"),
        (dict(ema_momentum=-0.1), ValueError, "ema_momentum=-0.1"),
        (dict(use_ema=True, ema_overwrite_frequency=0), ValueError, "ema_overwrite_frequency=0"),
        (dict(use_ema=True, ema_overwrite_frequency=1.5), TypeError, "ema_overwrite_frequency"),
        (dict(use_ema="yes"), TypeError, "use_ema='yes'"),
    ],
)
@pytest.mark.parametrize("name", ["Adam", "SGD", "AdamW"])
def test_bad_values_raise(name, kwargs, error, match):
    with pytest.raises(error, match=f"{name}: .*Received: {match}"):
        getattr(fko, name)(**kwargs)


# ----------------------------------------------------------------------------- Keras parity

KERAS_CASES = [
    ("Adam", dict(learning_rate=0.1, use_ema=True)),
    ("Adam", dict(learning_rate=0.1, use_ema=True, ema_momentum=0.9, ema_overwrite_frequency=2)),
    ("Adam", dict(learning_rate=0.1, gradient_accumulation_steps=3)),
    (
        "SGD",
        dict(
            learning_rate=0.1,
            momentum=0.9,
            weight_decay=0.1,
            global_clipnorm=0.5,
            gradient_accumulation_steps=2,
        ),
    ),  # fmt: skip
    (
        "Adam",
        dict(
            learning_rate=0.1,
            gradient_accumulation_steps=2,
            use_ema=True,
            ema_momentum=0.8,
            ema_overwrite_frequency=2,
        ),
    ),  # fmt: skip
    ("SGD", dict(learning_rate=("ExponentialDecay", (0.1, 2, 0.5)), gradient_accumulation_steps=2)),
]


@pytest.mark.parametrize("name,kwargs", KERAS_CASES, ids=lambda c: str(c))
def test_matches_keras(name, kwargs):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":  # pragma: no cover - keras imported elsewhere first
        pytest.skip("Keras parity needs the JAX backend")
    fk_kwargs, keras_kwargs = dict(kwargs), dict(kwargs)
    if isinstance(kwargs["learning_rate"], tuple):
        sched, args = kwargs["learning_rate"]
        fk_kwargs["learning_rate"] = getattr(schedules, sched)(*args)
        keras_kwargs["learning_rate"] = getattr(keras.optimizers.schedules, sched)(*args)
    steps = 6
    optimizer = getattr(keras.optimizers, name)(**keras_kwargs)
    variables = [keras.Variable(w) for w in W0]
    for t in range(steps):
        grads = grads_at([np.asarray(v) for v in variables], t)
        optimizer.apply_gradients(zip([jnp.asarray(g) for g in grads], variables))
    keras_trained = [np.asarray(v) for v in variables]
    optimizer.finalize_variable_values(variables)
    keras_final = [np.asarray(v) for v in variables]

    history, state = run(getattr(fko, name)(**fk_kwargs), steps)
    assert_trees_close(history[-1], keras_trained, rtol=1e-5, atol=1e-6)
    assert_trees_close(fko.finalize_params(state, history[-1]), keras_final, 1e-5, 1e-6)
