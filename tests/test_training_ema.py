"""fit keeps the optimizer's moving average of the weights at the end (Keras'
`finalize_variable_values`), and only when the optimizer uses EMA."""

import jax
import numpy as np

import fkeras as fk

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 5)).astype("float32")
Y = RNG.normal(size=(64, 2)).astype("float32")


class LastEpochState(fk.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.state = self.trainer.state


def fit(optimizer):
    model = fk.Sequential([fk.Input((5,)), fk.layers.Dense(2)], seed=0)
    trainer = model.compile(optimizer=optimizer, loss="mse")
    seen = LastEpochState()
    trainer.fit(X, Y, batch_size=16, epochs=2, verbose=0, callbacks=[seen])
    return trainer, seen.state


def test_fit_ends_with_the_ema_weights():
    trainer, before_end = fit(fk.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.9))
    ema = fk.optimizers.finalize_params(before_end.opt_state, before_end.params)
    final = jax.tree_util.tree_leaves(trainer.state.params)
    for got, want, raw in zip(
        final, jax.tree_util.tree_leaves(ema), jax.tree_util.tree_leaves(before_end.params)
    ):
        np.testing.assert_array_equal(got, want)
        assert not np.allclose(want, raw)  # the average really differs from the last weights


def test_fit_without_ema_keeps_the_last_weights():
    trainer, before_end = fit(fk.optimizers.Adam(0.05))
    for got, want in zip(
        jax.tree_util.tree_leaves(trainer.state.params),
        jax.tree_util.tree_leaves(before_end.params),
    ):
        np.testing.assert_array_equal(got, want)
