"""fk.optimizers and fk.optimizers.schedules: numerical parity with Keras 3 (JAX backend),
the injectable learning rate, `get`, argument checks, and jit.

Each optimizer runs 5 steps on a small quadratic with two variables, a (3, 2) matrix and a (2,)
vector: the gradient at step t is `w - target + c_t`, with fixed offsets `c_t` that change from
step to step. fkeras and Keras each follow their own trajectory and must end in the same place.
"""

import inspect
import math
import os
import re
import textwrap
import types

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from fkeras import optimizers as fko
from fkeras.optimizers import schedules

os.environ["KERAS_BACKEND"] = "jax"
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":  # pragma: no cover - keras imported earlier elsewhere
    pytest.skip(
        f"Keras parity tests need the JAX backend; got {keras.backend.backend()!r}",
        allow_module_level=True,
    )

RTOL, ATOL = 1e-5, 1e-6
STEPS = 5
SHAPES = [(3, 2), (2,)]
_rng = np.random.default_rng(0)
W0 = [_rng.normal(size=s).astype(np.float32) for s in SHAPES]
TARGET = [_rng.normal(size=s).astype(np.float32) for s in SHAPES]
OFFSETS = [[(0.5 * _rng.normal(size=s)).astype(np.float32) for s in SHAPES] for _ in range(STEPS)]

NAMES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "Nadam", "Lion"]


def quadratic_grads(ws, t):
    """The gradient of `0.5 * |w - target|^2 + <c_t, w>` at `ws`, in float32."""
    return [np.asarray(w, np.float32) - tg + c for w, tg, c in zip(ws, TARGET, OFFSETS[t])]


def _schedule_pair(spec):
    """A learning rate given as `(ScheduleName, kwargs)` becomes fkeras' and Keras' schedule."""
    if isinstance(spec, tuple):
        name, kwargs = spec
        return getattr(schedules, name)(**kwargs), getattr(keras.optimizers.schedules, name)(
            **kwargs
        )
    return spec, spec


def _split_kwargs(kwargs):
    fk_kwargs, keras_kwargs = dict(kwargs), dict(kwargs)
    if "learning_rate" in kwargs:
        fk_kwargs["learning_rate"], keras_kwargs["learning_rate"] = _schedule_pair(
            kwargs["learning_rate"]
        )
    return fk_kwargs, keras_kwargs


def run_keras(name, kwargs, steps=STEPS, lr_change=None):
    optimizer = getattr(keras.optimizers, name)(**kwargs)
    variables = [keras.Variable(w) for w in W0]
    for t in range(steps):
        if lr_change is not None and t == lr_change[0]:
            optimizer.learning_rate = lr_change[1]
        grads = quadratic_grads([np.asarray(v) for v in variables], t)
        optimizer.apply_gradients(zip([jnp.asarray(g) for g in grads], variables))
    return [np.asarray(v) for v in variables]


def run_fk(optimizer, steps=STEPS, jit=False, lr_change=None):
    params = [jnp.asarray(w) for w in W0]
    state = optimizer.init(params)
    update = jax.jit(optimizer.update) if jit else optimizer.update
    for t in range(steps):
        if lr_change is not None and t == lr_change[0]:
            state = fko.set_learning_rate(state, lr_change[1])
        updates, state = update(quadratic_grads(params, t), state, params)
        params = optax.apply_updates(params, updates)
    return [np.asarray(p) for p in params], state


def assert_trees_close(actual, expected, rtol=RTOL, atol=ATOL):
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------- Keras parity

EXP = ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.5))
COS = (
    "CosineDecay",
    dict(initial_learning_rate=0.0, decay_steps=3, warmup_target=0.1, warmup_steps=2),
)

CASES = [
    ("SGD", {}),
    ("SGD", dict(learning_rate=0.1, momentum=0.9)),
    ("SGD", dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(learning_rate=0.1, weight_decay=0.1)),
    ("SGD", dict(learning_rate=0.1, clipnorm=0.5)),
    ("SGD", dict(learning_rate=0.1, clipvalue=0.3)),
    ("SGD", dict(learning_rate=0.1, global_clipnorm=0.5)),
    ("SGD", dict(learning_rate=EXP, momentum=0.5, nesterov=True)),
    ("Adam", {}),
    ("Adam", dict(learning_rate=0.1, amsgrad=True)),
    ("Adam", dict(learning_rate=0.1, epsilon=0.3)),
    ("Adam", dict(learning_rate=0.1, weight_decay=0.2)),
    ("Adam", dict(learning_rate=0.1, clipnorm=0.5, beta_1=0.5, beta_2=0.9)),
    ("Adam", dict(learning_rate=COS, global_clipnorm=0.5)),
    ("AdamW", {}),
    ("AdamW", dict(learning_rate=0.1, weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(learning_rate=EXP, clipvalue=0.3)),
    ("RMSprop", {}),
    ("RMSprop", dict(learning_rate=0.05, momentum=0.9)),
    ("RMSprop", dict(learning_rate=0.05, centered=True)),
    ("RMSprop", dict(learning_rate=0.05, centered=True, momentum=0.5, epsilon=0.1, rho=0.5)),
    ("RMSprop", dict(learning_rate=0.05, weight_decay=0.1, clipnorm=0.5)),
    ("Adagrad", {}),
    ("Adagrad", dict(learning_rate=0.1, initial_accumulator_value=0.5, epsilon=0.2)),
    ("Adagrad", dict(learning_rate=0.1, weight_decay=0.1, global_clipnorm=0.5)),
    ("Adamax", {}),
    ("Adamax", dict(learning_rate=0.1, epsilon=0.3, beta_2=0.5)),
    ("Adamax", dict(learning_rate=0.1, weight_decay=0.1, clipvalue=0.3)),
    ("Nadam", {}),
    ("Nadam", dict(learning_rate=0.1, epsilon=0.3, beta_1=0.5)),
    ("Nadam", dict(learning_rate=0.1, weight_decay=0.1, clipnorm=0.5)),
    ("Lion", {}),
    ("Lion", dict(learning_rate=0.05, beta_1=0.5, beta_2=0.9)),
    ("Lion", dict(learning_rate=0.05, weight_decay=0.5, global_clipnorm=0.5)),
]


def _case_id(case):
    name, kwargs = case
    parts = [f"{k}={v[0] if isinstance(v, tuple) else v}" for k, v in kwargs.items()]
    return f"{name}({','.join(parts)})"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_matches_keras(case):
    name, kwargs = case
    fk_kwargs, keras_kwargs = _split_kwargs(kwargs)
    expected = run_keras(name, keras_kwargs)
    actual, _ = run_fk(getattr(fko, name)(**fk_kwargs))
    assert_trees_close(actual, expected)
    # The variables moved, so the comparison says something about the updates.
    assert max(np.abs(a - w).max() for a, w in zip(actual, W0)) > 1e-3
    # The displacement itself agrees (tighter than comparing positions when steps are small).
    assert_trees_close(
        [a - w for a, w in zip(actual, W0)],
        [e - w for e, w in zip(expected, W0)],
        rtol=1e-4,
        atol=ATOL,
    )


@pytest.mark.parametrize("name", NAMES)
def test_defaults_match_keras(name):
    ours = inspect.signature(getattr(fko, name)).parameters
    theirs = inspect.signature(getattr(keras.optimizers, name).__init__).parameters
    for arg, param in ours.items():
        assert arg in theirs, arg
        assert param.default == theirs[arg].default, (name, arg)


@pytest.mark.parametrize("name", NAMES)
def test_jit_matches_eager(name):
    kwargs = dict(learning_rate=0.05, weight_decay=0.1, clipnorm=0.5)
    eager, eager_state = run_fk(getattr(fko, name)(**kwargs))
    jitted, jit_state = run_fk(getattr(fko, name)(**kwargs), jit=True)
    assert_trees_close(jitted, eager, rtol=1e-6, atol=1e-7)
    assert jax.tree.structure(eager_state) == jax.tree.structure(jit_state)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_changed_learning_rate_matches_keras(name):
    # SGD uses momentum: Keras keeps the learning rate inside the velocity.
    kwargs = dict(learning_rate=0.1, momentum=0.9) if name != "Adam" else dict(learning_rate=0.1)
    expected = run_keras(name, kwargs, lr_change=(2, 0.02))
    actual, state = run_fk(getattr(fko, name)(**kwargs), lr_change=(2, 0.02))
    assert_trees_close(actual, expected)
    assert float(fko.get_learning_rate(state)) == pytest.approx(0.02)


def test_optax_adam_differs_where_keras_epsilon_matters():
    # The point of the custom Adam: Keras adds epsilon to sqrt(v), before bias correction.
    kwargs = dict(learning_rate=0.1, epsilon=0.3)
    keras_result = run_keras("Adam", kwargs)
    optax_result, _ = run_fk(optax.adam(0.1, eps=0.3))
    assert not np.allclose(optax_result[0], keras_result[0], rtol=1e-3)


@pytest.mark.parametrize("clip", ["global_clipnorm", "clipnorm"])
def test_none_leaves_and_dtypes_are_kept(clip):
    # Traced only (jax.eval_shape), so no compilation: dtypes, None leaves, strict promotion.
    params = {"kernel": jnp.ones((3, 2), jnp.bfloat16), "bias": None, "x": jnp.ones(2)}
    grads = jax.tree.map(lambda p: jnp.full_like(p, 0.5), params)
    for name in NAMES:
        optimizer = getattr(fko, name)(weight_decay=0.1, **{clip: 1.0})
        with jax.numpy_dtype_promotion("strict"):
            state = jax.eval_shape(optimizer.init, params)
            updates, state = jax.eval_shape(optimizer.update, grads, state, params)
        assert updates["bias"] is None
        assert updates["kernel"].dtype == jnp.bfloat16, name
        assert updates["x"].dtype == jnp.float32, name
        assert fko.get_learning_rate(state).dtype == jnp.float32


# ----------------------------------------------------------------------------- learning rate


def _params():
    return [jnp.asarray(w) for w in W0]


def test_learning_rate_round_trip_and_use():
    optimizer = fko.SGD(learning_rate=0.1)
    state = optimizer.init(_params())
    assert fko.get_learning_rate(state) == pytest.approx(0.1)
    new_state = fko.set_learning_rate(state, 0.5)
    assert fko.get_learning_rate(new_state) == pytest.approx(0.5)
    assert fko.get_learning_rate(state) == pytest.approx(0.1)  # the old state is untouched
    grads = quadratic_grads(W0, 0)
    updates, new_state = optimizer.update(grads, new_state, _params())
    np.testing.assert_allclose(updates[0], -0.5 * grads[0], rtol=1e-6)
    assert fko.get_learning_rate(new_state) == pytest.approx(0.5)  # kept by update


def test_set_learning_rate_under_jit():
    optimizer = fko.Adam(learning_rate=0.1)
    state = optimizer.init(_params())
    state = jax.jit(fko.set_learning_rate)(state, jnp.float32(0.25))
    assert fko.get_learning_rate(state) == pytest.approx(0.25)
    assert jax.jit(fko.get_learning_rate)(state) == pytest.approx(0.25)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda opt: optax.chain(optax.clip(1.0), opt),
        lambda opt: optax.MultiSteps(opt, every_k_schedule=1).gradient_transformation(),
        lambda opt: optax.MultiSteps(optax.chain(opt), every_k_schedule=2),
    ],
    ids=["chain", "multisteps", "multisteps-chain"],
)
def test_learning_rate_nested(wrap):
    optimizer = wrap(fko.SGD(learning_rate=0.1))
    state = optimizer.init(_params())
    assert fko.get_learning_rate(state) == pytest.approx(0.1)
    state = fko.set_learning_rate(state, 0.3)
    assert fko.get_learning_rate(state) == pytest.approx(0.3)
    grads = [np.full(s, 0.1, np.float32) for s in SHAPES]
    updates, state = optimizer.update(grads, state, _params())
    if not isinstance(optimizer, optax.MultiSteps):
        np.testing.assert_allclose(updates[1], -0.3 * grads[1], rtol=1e-6)


def test_learning_rate_of_plain_optax_inject_hyperparams():
    optimizer = optax.inject_hyperparams(optax.adam)(learning_rate=0.1)
    state = fko.set_learning_rate(optimizer.init(_params()), 0.2)
    assert fko.get_learning_rate(state) == pytest.approx(0.2)


def test_learning_rate_schedule_is_readable_not_settable():
    schedule = schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    optimizer = fko.Adam(learning_rate=schedule)
    params = _params()
    state = optimizer.init(params)
    assert fko.get_learning_rate(state) == pytest.approx(0.1)
    _, state = optimizer.update(quadratic_grads(W0, 0), state, params)
    _, state = optimizer.update(quadratic_grads(W0, 1), state, params)
    assert fko.get_learning_rate(state) == pytest.approx(0.05)  # the value used by step 2
    with pytest.raises(ValueError, match="schedule"):
        fko.set_learning_rate(state, 0.01)


def test_learning_rate_errors():
    params = _params()
    with pytest.raises(ValueError, match="not built with an injectable learning rate"):
        fko.get_learning_rate(optax.adam(1e-3).init(params))
    with pytest.raises(ValueError, match="fk.optimizers.Adam"):
        fko.set_learning_rate(optax.sgd(1e-3).init(params), 0.1)
    both = optax.multi_transform({"a": fko.SGD(0.1), "b": fko.Adam(0.01)}, ["a", "b"]).init(params)
    with pytest.raises(ValueError, match="ambiguous"):
        fko.get_learning_rate(both)
    state = fko.SGD(0.1).init(params)
    with pytest.raises(ValueError, match="learning_rate"):
        fko.set_learning_rate(state, -1.0)


def test_weight_decay_needs_params():
    optimizer = fko.AdamW()
    state = optimizer.init(_params())
    with pytest.raises(ValueError, match=r"AdamW\(weight_decay=...\).*params"):
        optimizer.update(quadratic_grads(W0, 0), state)


# ----------------------------------------------------------------------------- get


@pytest.mark.parametrize(
    "identifier, name",
    [
        ("adam", "Adam"),
        ("Adam", "Adam"),
        ("sgd", "SGD"),
        ("SGD", "SGD"),
        ("rmsprop", "RMSprop"),
        ("RMSprop", "RMSprop"),
        ("adamw", "AdamW"),
        ("AdamW", "AdamW"),
        ("adagrad", "Adagrad"),
        ("adamax", "Adamax"),
        ("NADAM", "Nadam"),
        ("lion", "Lion"),
    ],
)
def test_get_names(identifier, name):
    optimizer = fko.get(identifier)
    assert isinstance(optimizer, optax.GradientTransformation)
    params = _params()
    grads = quadratic_grads(W0, 0)
    expected, _ = getattr(fko, name)().update(grads, getattr(fko, name)().init(params), params)
    actual, state = optimizer.update(grads, optimizer.init(params), params)
    assert_trees_close(actual, expected, rtol=0, atol=0)
    default_lr = 0.01 if name == "SGD" else 0.001
    assert fko.get_learning_rate(state) == pytest.approx(default_lr)


def test_get_passes_optax_through():
    optimizer = optax.sgd(0.1)
    assert fko.get(optimizer) is optimizer
    adam = fko.Adam()
    assert fko.get(adam) is adam


def test_get_errors():
    with pytest.raises(ValueError, match="Unknown optimizer 'xyz'") as info:
        fko.get("xyz")
    assert "Received: optimizer='xyz'" in str(info.value)
    with pytest.raises(ValueError, match="Did you mean 'adam'"):
        fko.get("adamm")
    with pytest.raises(ValueError, match="Did you mean 'rmsprop'"):
        fko.get("RMSProps")
    with pytest.raises(TypeError, match="Received: optimizer=3"):
        fko.get(3)
    with pytest.raises(TypeError, match="Keras optimizer objects are not supported"):
        fko.get(keras.optimizers.Adam())


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: fko.Adam(learning_rate=-0.1), r"Adam: `learning_rate`.*learning_rate=-0.1"),
        (lambda: fko.SGD(learning_rate="fast"), r"SGD: `learning_rate`.*learning_rate='fast'"),
        (lambda: fko.Adam(beta_1=1.0), r"Adam: `beta_1` must be in \[0, 1\).*beta_1=1.0"),
        (lambda: fko.Nadam(beta_2=-0.5), r"Nadam: `beta_2`.*beta_2=-0.5"),
        (lambda: fko.Adamax(epsilon=-1.0), r"Adamax: `epsilon`.*epsilon=-1.0"),
        (lambda: fko.SGD(momentum=1.5), r"SGD: `momentum` must be in \[0, 1\].*momentum=1.5"),
        (lambda: fko.RMSprop(rho=1.0), r"RMSprop: `rho`.*rho=1.0"),
        (lambda: fko.RMSprop(momentum=-0.1), r"RMSprop: `momentum`.*momentum=-0.1"),
        (lambda: fko.Adagrad(initial_accumulator_value=-1), "initial_accumulator_value=-1"),
        (lambda: fko.Lion(beta_1=0.0), r"Lion: `beta_1` must be in \(0, 1\].*beta_1=0.0"),
        (lambda: fko.AdamW(weight_decay=None), "AdamW.*weight_decay=None"),
        (lambda: fko.Adam(weight_decay=-0.1), r"Adam: `weight_decay`.*weight_decay=-0.1"),
        (lambda: fko.SGD(clipnorm=-1.0), r"SGD: `clipnorm`.*clipnorm=-1.0"),
        (lambda: fko.SGD(clipnorm=1.0, clipvalue=1.0), "only one of `clipnorm`"),
        (lambda: schedules.ExponentialDecay(0.1, 0, 0.5), "decay_steps=0"),
        (lambda: schedules.CosineDecay(0.1, -5), "decay_steps=-5"),
        (lambda: schedules.PiecewiseConstantDecay([1, 2], [0.1]), "length of `boundaries`"),
    ],
)
def test_invalid_arguments(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_invalid_argument_types():
    with pytest.raises(TypeError, match="learning_rate"):
        fko.Adam(learning_rate=None)
    with pytest.raises(ValueError):
        fko.Adam(learning_rate=-1)


# ----------------------------------------------------------------------------- schedules


def _np_exponential(step, initial_learning_rate, decay_steps, decay_rate, staircase=False):
    p = step / decay_steps
    return initial_learning_rate * decay_rate ** (np.floor(p) if staircase else p)


def _np_inverse_time(step, initial_learning_rate, decay_steps, decay_rate, staircase=False):
    p = step / decay_steps
    return initial_learning_rate / (1 + decay_rate * (np.floor(p) if staircase else p))


def _np_polynomial(
    step, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False
):
    if cycle:
        decay_steps = decay_steps * (1.0 if step == 0 else math.ceil(step / decay_steps))
    else:
        step = min(step, decay_steps)
    lr0, end = initial_learning_rate, end_learning_rate
    return (lr0 - end) * (1 - step / decay_steps) ** power + end


def _np_cosine(
    step, initial_learning_rate, decay_steps, alpha=0.0, warmup_target=None, warmup_steps=0
):
    lr0 = initial_learning_rate

    def decay(s, from_lr):
        return from_lr * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * s / decay_steps)) + alpha)

    if warmup_target is None:
        return decay(min(step, decay_steps), lr0)
    step = min(step, decay_steps + warmup_steps)
    if step < warmup_steps:
        return (warmup_target - lr0) * step / warmup_steps + lr0
    return decay(step - warmup_steps, warmup_target)


def _np_piecewise(step, boundaries, values):
    for boundary, value in zip(boundaries, values):
        if step <= boundary:
            return value
    return values[-1]


SCHEDULE_CASES = [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.9),
     _np_exponential),
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.9,
                              staircase=True), _np_exponential),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=7, decay_rate=0.5),
     _np_inverse_time),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=7, decay_rate=0.5,
                              staircase=True), _np_inverse_time),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=40), _np_polynomial),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=40, end_learning_rate=0.01,
                             power=0.5, cycle=True), _np_polynomial),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=40), _np_cosine),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=40, alpha=0.1), _np_cosine),
    ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=40, warmup_target=0.2,
                         warmup_steps=10), _np_cosine),
    ("PiecewiseConstantDecay", dict(boundaries=[10, 30], values=[0.1, 0.05, 0.01]),
     _np_piecewise),
]  # fmt: skip
SCHEDULE_STEPS = [0, 1, 9, 10, 11, 30, 31, 45, 79, 80, 81, 200]


@pytest.mark.parametrize(
    "name, kwargs, formula",
    SCHEDULE_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(SCHEDULE_CASES)],
)
def test_schedule_matches_formula_and_keras(name, kwargs, formula):
    schedule = getattr(schedules, name)(**kwargs)
    keras_schedule = getattr(keras.optimizers.schedules, name)(**kwargs)
    expected = np.array([formula(step, **kwargs) for step in SCHEDULE_STEPS])
    steps = jnp.asarray(SCHEDULE_STEPS, jnp.int32)
    # Jitted and vmapped (one compilation each, and both must work); Keras' warmup uses `cond`.
    actual = jax.jit(jax.vmap(schedule))(steps)
    from_keras = jax.jit(jax.vmap(keras_schedule))(steps)
    assert actual.dtype == jnp.float32
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(actual, from_keras, rtol=RTOL, atol=ATOL)
    scalar = schedule(SCHEDULE_STEPS[4])  # eager, with a Python int
    assert scalar.dtype == jnp.float32 and scalar.shape == ()
    np.testing.assert_allclose(scalar, expected[4], rtol=RTOL, atol=ATOL)


def test_schedule_config_round_trip_and_hash():
    schedule = schedules.PiecewiseConstantDecay([10, 30], [0.1, 0.05, 0.01])
    config = schedule.get_config()
    assert config == {"boundaries": [10, 30], "values": [0.1, 0.05, 0.01]}
    assert schedules.PiecewiseConstantDecay.from_config(config) == schedule
    cosine = schedules.CosineDecay(0.1, 100, warmup_target=0.2, warmup_steps=5)
    assert schedules.CosineDecay.from_config({**cosine.get_config(), "name": "x"}) == cosine
    assert hash(cosine) == hash(schedules.CosineDecay(0.1, 100, warmup_target=0.2, warmup_steps=5))


def test_schedule_drives_optimizer_under_jit():
    schedule = schedules.PolynomialDecay(0.1, decay_steps=4, end_learning_rate=0.0)
    optimizer = fko.SGD(learning_rate=schedule)
    params = [jnp.zeros(2)]
    state = optimizer.init(params)
    update = jax.jit(optimizer.update)
    for step in range(5):
        updates, state = update([jnp.ones(2)], state, params)
        np.testing.assert_allclose(updates[0], -float(schedule(step)) * np.ones(2), rtol=1e-6)


# ----------------------------------------------------------------------------- docstrings

_DOCUMENTED = [getattr(fko, n) for n in fko.__all__ if n != "schedules" and not n.endswith("State")]
_DOCUMENTED += [getattr(schedules, n) for n in schedules.__all__ if n != "LearningRateSchedule"]


@pytest.mark.parametrize("obj", _DOCUMENTED, ids=lambda obj: obj.__name__)
def test_docstring_example_runs(obj):
    doc = inspect.getdoc(obj)
    assert "**Arguments:**" in doc, obj
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    assert len(blocks) == 1, obj
    params = [jnp.asarray(w) for w in W0]
    namespace = {
        "fk": types.SimpleNamespace(optimizers=fko),  # only this package, whatever else changes
        "optax": optax,
        "jax": jax,
        "jnp": jnp,
        "params": params,
        "grads": quadratic_grads(W0, 0),
        "optimizer": fko.SGD(),
        "opt_state": fko.SGD().init(params),
    }
    exec(compile(textwrap.dedent(blocks[0]), obj.__name__, "exec"), namespace)
