"""compile / fit / evaluate / predict and the pure steps, checked against independent truths."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fkeras as fk

L = fk.layers


def small_data(n=40, d=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0.5).astype("int32")
    return x, np.minimum(y, classes - 1)


def mlp(seed=0, bn=False, d=5, classes=3):
    layers = [fk.Input((d,)), L.Dense(8, activation="relu")]
    layers += [L.BatchNormalization()] if bn else []
    return fk.Sequential([*layers, L.Dense(classes)], seed=seed)


def ce(from_logits=True):
    return fk.losses.SparseCategoricalCrossentropy(from_logits=from_logits)


def np_sparse_ce(logits, y):
    logits = logits - logits.max(-1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -log_p[np.arange(len(y)), y]


def test_digits_end_to_end_reaches_high_test_accuracy(tmp_path):
    from fkeras.examples.digits import build_model, load_digits_split

    (x, y), (x_test, y_test) = load_digits_split(0)
    trainer = build_model(0).compile(optimizer="adam", loss=ce(), metrics=["accuracy"])
    history = trainer.fit(x, y, batch_size=64, epochs=15, validation_split=0.1, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["val_accuracy"]) == 15
    assert history.history["loss"][-1] < history.history["loss"][0]
    logs = trainer.evaluate(x_test, y_test, verbose=0)
    assert logs["accuracy"] >= 0.95
    predicted = trainer.predict(x_test, verbose=0).argmax(-1)
    assert np.mean(predicted == y_test) == pytest.approx(logs["accuracy"], abs=1e-6)


def test_same_seed_is_bit_identical_and_the_compiled_model_is_unchanged():
    x, y = small_data()
    model = mlp(bn=True)
    before = [w.copy() for w in model.get_weights()]
    runs = []
    for _ in range(2):
        trainer = model.compile(optimizer="adam", loss=ce(), seed=3)
        trainer.fit(x, y, batch_size=16, epochs=3, verbose=0)
        runs.append(trainer.model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # the model passed to compile never changes
    assert not np.array_equal(runs[0][0], before[0])


def test_evaluate_masks_the_padded_last_batch():
    x, y = small_data(n=23)
    model = mlp()
    trainer = model.compile(optimizer="sgd", loss=ce(), metrics=["accuracy"])
    logits = np.asarray(model(x))
    for batch_size in (5, 7, 23, 64):  # 23 = 4*5+3 = 3*7+2: padded last batches
        logs = trainer.evaluate(x, y, batch_size=batch_size, verbose=0)
        assert logs["loss"] == pytest.approx(np_sparse_ce(logits, y).mean(), rel=1e-5)
        assert logs["accuracy"] == pytest.approx(np.mean(logits.argmax(-1) == y), abs=1e-7)


def test_sample_weights_in_evaluate_follow_keras_reduction():
    x, y = small_data(n=12)
    model = mlp()
    weights = np.linspace(0, 2, 12).astype("float32")
    trainer = model.compile(optimizer="sgd", loss=ce(), weighted_metrics=["accuracy"])
    logs = trainer.evaluate(x, y, sample_weight=weights, batch_size=5, verbose=0)
    per_sample = np_sparse_ce(np.asarray(model(x)), y)
    # Keras' sum_over_batch_size: weighted sum over the number of samples.
    assert logs["loss"] == pytest.approx((per_sample * weights).sum() / 12, rel=1e-5)
    correct = np.asarray(model(x)).argmax(-1) == y
    assert logs["accuracy"] == pytest.approx((correct * weights).sum() / weights.sum(), rel=1e-5)


def test_a_padded_batch_trains_exactly_like_the_unpadded_one():
    x, y = small_data(n=20)
    results = []
    for batch_size in (20, 32):  # one step either way; the second pads 12 rows with weight 0
        trainer = mlp().compile(optimizer="sgd", loss=ce(), seed=0)
        trainer.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        results.append(trainer.model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_fit_equals_a_hand_written_loop_over_the_public_train_step():
    x, y = small_data(n=32)
    model = mlp(bn=True)
    trainer = model.compile(optimizer="adam", loss=ce(), metrics=["accuracy"], seed=1)
    manual = model.compile(optimizer="adam", loss=ce(), metrics=["accuracy"], seed=1)
    trainer.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    step = jax.jit(manual.train_step)
    state = manual.state
    for b in range(4):
        state, logs = step(state, (x[b * 8 : (b + 1) * 8], y[b * 8 : (b + 1) * 8]))
    assert int(state.step) == int(trainer.state.step) == 4
    for a, b in zip(
        jax.tree_util.tree_leaves(state.params), jax.tree_util.tree_leaves(trainer.state.params)
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert float(logs["loss"]) == pytest.approx(trainer.history.history["loss"][0], rel=1e-5)


def test_resumed_fit_matches_an_uninterrupted_one_bit_for_bit():
    x, y = small_data()
    whole = mlp(bn=True).compile(optimizer="adam", loss=ce(), steps_per_execution=2, seed=0)
    whole.fit(x, y, batch_size=8, epochs=3, verbose=0)
    parts = mlp(bn=True).compile(optimizer="adam", loss=ce(), steps_per_execution=2, seed=0)
    parts.fit(x, y, batch_size=8, epochs=1, verbose=0)
    parts.fit(x, y, batch_size=8, epochs=3, initial_epoch=1, verbose=0)
    for a, b in zip(whole.model.get_weights(), parts.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_steps_per_execution_does_not_change_the_result():
    x, y = small_data(n=36)
    results = []
    for spe in (1, 4, "auto"):
        trainer = mlp().compile(optimizer="adam", loss=ce(), steps_per_execution=spe, seed=0)
        trainer.fit(x, y, batch_size=5, epochs=2, verbose=0)  # 8 steps/epoch, 1 padded
        results.append(trainer.model.get_weights())
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_convolutional_models_take_one_straight_step_per_dispatch_on_cpu():
    L = fk.layers
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 6, 6, 1)).astype("float32"), rng.integers(0, 3, 20)
    results = []
    for spe in ("auto", 3):
        model = fk.Sequential(
            [fk.Input((6, 6, 1)), L.Conv2D(4, 3), L.Flatten(), L.Dense(3)], seed=0
        )
        trainer = model.compile(optimizer="adam", loss=ce(), steps_per_execution=spe, seed=0)
        trainer.fit(x, y, batch_size=8, epochs=2, verbose=0)  # 3 steps/epoch, 1 padded
        results.append((trainer, trainer.evaluate(x, y, batch_size=8, verbose=0)))
    (straight, logs), (scanned, scanned_logs) = results
    if jax.default_backend() == "cpu":
        assert straight._steps_per_dispatch(50) == 1
    for a, b in zip(straight.model.get_weights(), scanned.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(list(logs.values()), list(scanned_logs.values()), rtol=1e-5)


def test_generators_and_iterables_of_batches():
    x, y = small_data(n=30)

    def batches():
        for i in range(0, 30, 8):  # 8, 8, 8, 6: the last batch is padded
            yield x[i : i + 8], y[i : i + 8]

    from_generator = mlp().compile(optimizer="sgd", loss=ce(), seed=0)
    from_generator.fit(batches(), epochs=1, verbose=0)
    from_arrays = mlp().compile(optimizer="sgd", loss=ce(), seed=0)
    from_arrays.fit(x, y, batch_size=8, shuffle=False, epochs=1, verbose=0)
    for a, b in zip(from_generator.model.get_weights(), from_arrays.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    listed = list(batches())  # a re-iterable list is read afresh every epoch
    history = mlp().compile(optimizer="sgd", loss=ce()).fit(listed, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    evaluated = from_arrays.evaluate(listed, verbose=0)
    np.testing.assert_allclose(
        evaluated["loss"], from_arrays.evaluate(x, y, verbose=0)["loss"], rtol=1e-5
    )
    np.testing.assert_allclose(
        from_arrays.predict(listed, verbose=0), from_arrays.predict(x, verbose=0), rtol=1e-6
    )


def test_a_generator_that_raises_mid_epoch_leaves_the_last_good_state():
    x, y = small_data(n=32)

    def failing():
        for i in range(3):
            yield x[i * 8 : (i + 1) * 8], y[i * 8 : (i + 1) * 8]
        raise RuntimeError("data source broke")

    trainer = mlp().compile(optimizer="sgd", loss=ce())
    with pytest.raises(RuntimeError, match="data source broke"):
        trainer.fit(failing(), epochs=1, verbose=0)
    assert int(trainer.state.step) == 3
    assert np.all(np.isfinite(trainer.model(x)))  # the state is whole and usable


def test_multi_input_dict_and_multi_output_losses_with_weights():
    a, b = fk.Input((3,), name="a"), fk.Input((2,), name="b")
    h = L.Concatenate()([a, b])
    model = fk.Model([a, b], {"cls": L.Dense(3)(h), "reg": L.Dense(1)(h)}, seed=0)
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")
    y_cls, y_reg = rng.integers(0, 3, 16), rng.normal(size=(16, 1)).astype("float32")
    trainer = model.compile(
        optimizer="adam",
        loss={"cls": ce(), "reg": "mse"},
        loss_weights={"cls": 1.0, "reg": 0.5},
        metrics={"cls": ["accuracy"]},
    )
    logs = trainer.evaluate({"a": xa, "b": xb}, {"cls": y_cls, "reg": y_reg}, verbose=0)
    out = model([xa, xb])
    cls_loss = np_sparse_ce(np.asarray(out["cls"]), y_cls).mean()
    reg_loss = np.mean((np.asarray(out["reg"]) - y_reg) ** 2)
    assert logs["cls_loss"] == pytest.approx(cls_loss, rel=1e-5)
    assert logs["reg_loss"] == pytest.approx(reg_loss, rel=1e-5)
    assert logs["loss"] == pytest.approx(cls_loss + 0.5 * reg_loss, rel=1e-5)
    assert "cls_accuracy" in logs
    history = trainer.fit({"a": xa, "b": xb}, {"cls": y_cls, "reg": y_reg}, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]


def test_class_weight_scales_the_loss_like_sample_weights():
    x, y = small_data(n=24)
    model = mlp()
    class_weight = {0: 1.0, 1: 3.0, 2: 0.5}
    by_class = model.compile(optimizer="sgd", loss=ce(), seed=0)
    by_class.fit(x, y, batch_size=24, class_weight=class_weight, epochs=1, verbose=0)
    by_sample = model.compile(optimizer="sgd", loss=ce(), seed=0)
    weights = np.array([class_weight[int(c)] for c in y], "float32")
    by_sample.fit(x, y, batch_size=24, sample_weight=weights, epochs=1, verbose=0)
    for a, b in zip(by_class.model.get_weights(), by_sample.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_optax_transformations_and_string_optimizers_are_accepted():
    x, y = small_data()
    trainer = mlp().compile(
        optimizer=optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-2)), loss=ce()
    )
    history = trainer.fit(x, y, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_train_and_test_on_batch():
    x, y = small_data(n=16)
    trainer = mlp().compile(optimizer="adam", loss=ce(), metrics=["accuracy"])
    first = trainer.train_on_batch(x, y)
    for _ in range(20):
        last = trainer.train_on_batch(x, y)
    assert int(trainer.state.step) == 21 and set(first) == {"loss", "accuracy"}
    logs = trainer.test_on_batch(x, y)
    expected = np_sparse_ce(np.asarray(trainer.model(x)), y).mean()
    assert logs["loss"] == pytest.approx(expected, rel=1e-5)
    assert last["loss"] < first["loss"]
    np.testing.assert_allclose(trainer.predict_on_batch(x), trainer.model(x), rtol=1e-6)


def test_verbose_progress_output(capsys):
    x, y = small_data()
    mlp().compile(optimizer="sgd", loss=ce(), metrics=["accuracy"]).fit(x, y, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out and "accuracy:" in out


# ----------------------------------------------------------------------- bad input
def test_bad_input_errors():
    x, y = small_data(n=10)
    trainer = mlp().compile(optimizer="sgd", loss=ce())
    with pytest.raises(ValueError, match=r"same number of samples.*x has 10.*y has 9"):
        trainer.fit(x, y[:9], verbose=0)
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 3\).*to 3"):
        trainer.fit(x, np.full(10, 3), verbose=0)
    with pytest.raises(ValueError, match="empty dataset"):
        trainer.fit(x[:0], y[:0], verbose=0)
    with pytest.raises(ValueError, match="empty dataset"):
        trainer.fit(iter([]), verbose=0)
    with pytest.raises(ValueError, match="Unknown loss 'mse_loss'"):
        mlp().compile(loss="mse_loss")
    with pytest.raises(ValueError, match="Unknown metric 'acuracy'"):
        mlp().compile(loss=ce(), metrics=["acuracy"])
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'"):
        mlp().compile(optimizer="adamm", loss=ce())
    with pytest.raises(ValueError, match="compile expects a built model"):
        fk.Sequential([L.Dense(2)]).compile(loss="mse")
    with pytest.raises(ValueError, match="no loss"):
        mlp().compile(optimizer="sgd").fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        trainer.fit(x, y, batch_size=0, verbose=0)


def test_out_of_range_labels_from_a_generator_give_nan_that_terminate_on_nan_catches():
    x, _ = small_data(n=8)
    trainer = mlp().compile(optimizer="sgd", loss=ce())
    history = trainer.fit(
        [(x, np.full(8, 7))] * 3, epochs=3, verbose=0, callbacks=[fk.callbacks.TerminateOnNaN()]
    )
    assert np.isnan(history.history["loss"][0]) and len(history.history["loss"]) == 1


def test_the_state_is_a_pytree_usable_with_jit_and_lax_scan():
    x, y = small_data(n=32)
    trainer = mlp().compile(optimizer="adam", loss=ce())
    batches = (jnp.asarray(x).reshape(4, 8, 5), jnp.asarray(y).reshape(4, 8))

    @jax.jit
    def epoch(state):
        def body(state, batch):
            state, logs = trainer.train_step(state, batch)
            return state, logs["loss"]

        return jax.lax.scan(body, state, batches)

    state, losses = epoch(trainer.state)
    assert losses.shape == (4,) and int(state.step) == 4


def test_ignore_class_leaves_samples_out_of_the_mean_as_keras():
    x, y = small_data(n=15)
    y = y.copy()
    y[::4] = 2  # class 2 is ignored
    model = mlp()
    loss = fk.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=2)
    # One padded batch: ignored and padded rows are both outside the mean. (Across batches Keras
    # averages batch losses weighted by batch size, which fkeras follows too.)
    logs = model.compile(loss=loss).evaluate(x, y, batch_size=16, verbose=0)
    keep = y != 2
    expected = np_sparse_ce(np.asarray(model(x))[keep], y[keep]).mean()
    assert logs["loss"] == pytest.approx(expected, rel=1e-5)


def test_metrics_sized_by_the_data_work_inside_the_scanned_fit():
    x, y = small_data(n=30)
    onehot = np.eye(3, dtype="float32")[y]  # F1Score takes one-hot labels, as in Keras
    trainer = mlp().compile(
        optimizer="adam",
        loss=fk.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[fk.metrics.F1Score(average=None)],  # no num_classes: sized from the data
    )
    history = trainer.fit(x, onehot, batch_size=8, epochs=2, verbose=0)
    assert np.shape(history.history["f1_score"][-1]) == (3,)
    from sklearn.metrics import f1_score

    predicted = np.asarray(trainer.model(x)).argmax(-1)
    logs = trainer.evaluate(x, onehot, verbose=0)
    np.testing.assert_allclose(
        logs["f1_score"], f1_score(y, predicted, average=None, labels=[0, 1, 2]), atol=1e-5
    )
