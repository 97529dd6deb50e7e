"""The digits MLP trained by an explicit research loop instead of `fit`.

    python -m fkeras.examples.research_loop [--epochs 30] [--seed 0]

The training loop here is the explicit research-loop pattern: `fk.partition` splits the model
into parameters, state and static parts, optax updates the parameters, and the model's
`apply(..., training=True)` returns the updated BatchNormalization statistics.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import fkeras as fk
from fkeras.examples.digits import build_model, load_digits_split


def train(model, x, y, *, epochs: int, batch_size: int = 64, seed: int = 0, verbose=True):
    params, state, static = fk.partition(model)
    optimizer = optax.adam(1e-3, eps=1e-7)  # Keras' Adam defaults
    opt_state = optimizer.init(params)

    def loss_fn(params, state, xb, yb, key):
        logits, updated = fk.combine(params, state, static).apply(xb, training=True, key=key)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()
        return loss, fk.partition(updated).state

    @jax.jit
    def train_step(params, state, opt_state, xb, yb, key):
        (loss, state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, state, xb, yb, key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), state, opt_state, loss

    rng = np.random.default_rng(seed)
    base_key = jax.random.key(seed)
    n_batches = len(x) // batch_size  # drop the ragged tail: one compiled shape
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        losses = []
        for b in range(n_batches):
            idx = order[b * batch_size : (b + 1) * batch_size]
            params, state, opt_state, loss = train_step(
                params, state, opt_state, x[idx], y[idx], jax.random.fold_in(base_key, step)
            )
            losses.append(loss)
            step += 1
        if verbose:
            print(f"epoch {epoch + 1:3d}/{epochs}  loss {float(jnp.mean(jnp.stack(losses))):.4f}")
    return fk.combine(params, state, static)


def accuracy(model, x, y) -> float:
    logits = jax.jit(lambda m, x: m(x))(model, x)
    return float(jnp.mean(jnp.argmax(logits, -1) == y))


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    (x_train, y_train), (x_test, y_test) = load_digits_split(args.seed)
    model = build_model(args.seed)
    model.summary()
    start = time.perf_counter()
    model = train(model, x_train, y_train, epochs=args.epochs, seed=args.seed)
    elapsed = time.perf_counter() - start
    acc = accuracy(model, x_test, y_test)
    print(f"test accuracy {acc:.4f} ({len(x_test)} held-out digits, trained in {elapsed:.1f}s)")
    return acc


if __name__ == "__main__":
    main()
