"""The recurrent time loop: `jax.lax.scan` over time-major inputs, with Keras' JAX-backend
semantics (`keras/src/backend/jax/rnn.py`) for masks, `go_backwards` and `unroll`; plus the
helpers the layers share (inputs with states, dropout masks, per-gate matmuls).

Where the mask is False the states are carried over and the step's output is the previous
state `h` (zeros with `zero_output_for_mask=True`, which `Bidirectional` sets for
`return_sequences`); with `go_backwards` the sequence is read from the end and
`return_sequences` outputs come in that reversed order.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array

from ...core.errors import describe


def split_inputs(inputs, initial_state, mask):
    """`(sequences, initial_state, mask)` from a call: `inputs` may also be the list
    `[sequences, *initial_states]` (the form a functional graph can express)."""
    if isinstance(inputs, (list, tuple)):
        if len(inputs) == 0:
            raise ValueError("A recurrent layer needs a sequence input. Received: inputs=[]")
        if len(inputs) > 1:
            if initial_state is not None:
                raise ValueError(
                    "Pass the initial states either in the input list or as `initial_state=`, "
                    "not both."
                )
            initial_state = list(inputs[1:])
        inputs = inputs[0]
    if isinstance(mask, (list, tuple)):
        mask = mask[0] if mask else None
    return inputs, initial_state, mask


def sequence_shape(input_shape):
    """The shape of the sequence input from a build shape (a list when states come too)."""
    return input_shape[0] if isinstance(input_shape, list) else input_shape


def check_rank3(layer, shape) -> None:
    if len(shape) != 3:
        raise ValueError(
            f"{describe(layer)} expects inputs of rank 3 (batch, timesteps, features). "
            f"Received: input_shape={tuple(shape)}"
        )


def keep_masks(key, rate: float, shape, dtype) -> Array:
    """Keras' `dropout(ones, rate)`: 0 with probability `rate`, else `1 / (1 - rate)`."""
    keep = jax.random.bernoulli(key, 1.0 - rate, shape)
    return jnp.where(keep, jnp.asarray(1.0 / (1.0 - rate), dtype), jnp.zeros((), dtype))


def gate_matmul(x: Array, w: Array, masks: Array | None) -> Array:
    """`x @ w` with dropout masks on `x`: none, one `(1, B, F)` for every gate, or one per gate
    `(k, B, F)` (Keras' implementation 1, used when `recurrent_dropout > 0`)."""
    if masks is None:
        return x @ w
    if masks.shape[0] == 1:
        return (x * masks[0]) @ w
    k = masks.shape[0]
    blocks = w.reshape(w.shape[0], k, -1)  # (F, k, U): gate g's block is w[:, g*U:(g+1)*U]
    y = jnp.einsum("kbf,fku->bku", x[None] * masks, blocks)
    return y.reshape(x.shape[0], -1)


def gate_input(x: Array, masks: Array | None, gate: int) -> Array:
    """`x` as gate `gate` sees it under dropout `masks` (see `gate_matmul`)."""
    if masks is None:
        return x
    return x * masks[gate if masks.shape[0] > 1 else 0]


def draw_dropout_masks(
    owner,
    *,
    dropout: float,
    recurrent_dropout: float,
    seed: int | None,
    count: int,
    input_shape: tuple,
    state_shape: tuple,
    dtype,
    training: bool,
    key,
):
    """`(input_masks, recurrent_masks)` drawn once per sequence (Keras reuses them at every
    timestep): `(count, *input_shape)` and `(count, *state_shape)`, or None where not used."""
    use_dp = training and 0.0 < dropout < 1.0
    use_rec = training and 0.0 < recurrent_dropout < 1.0
    if not (use_dp or use_rec):
        return None, None
    if key is None:
        raise ValueError(
            f"{describe(owner)} needs a PRNG key in training mode with dropout="
            f"{dropout}, recurrent_dropout={recurrent_dropout}. Call the model as "
            "`model(x, training=True, key=jax.random.key(step))` (the trainer does this for "
            "you). Received: key=None"
        )
    if seed is not None:
        key = jax.random.fold_in(key, seed)
    k_in, k_rec = jax.random.split(key)
    dp = keep_masks(k_in, dropout, (count, *input_shape), dtype) if use_dp else None
    rec = keep_masks(k_rec, recurrent_dropout, (count, *state_shape), dtype) if use_rec else None
    return dp, rec


def _first_state(states):
    """Keras' guess at the previous output: the first state (of the last cell when stacked)."""
    first = states[0]
    if isinstance(first, (list, tuple)):
        last = states[-1]
        first = last[0] if isinstance(last, (list, tuple)) else last
    return first


def _batch_where(keep: Array, new, old):
    """`where(keep, new, old)` leaf by leaf, with `keep` `(batch,)` broadcast over each leaf."""

    def pick(n, o):
        return jnp.where(keep.reshape(keep.shape + (1,) * (n.ndim - 1)), n, o)

    return jax.tree_util.tree_map(pick, new, old)


def rnn_loop(
    step,
    sequences: Array,
    states,
    *,
    mask: Array | None,
    go_backwards: bool,
    unroll: bool,
    zero_output_for_mask: bool,
    return_sequences: bool,
):
    """`(last_output, outputs or None, final_states)` of `step(x_t, states) -> (out, states)`
    over axis 1 of `sequences` (batch-major in, batch-major out). `states` is any pytree of
    `(batch, ...)` arrays; the step must return new states of the same structure."""
    xs = jnp.swapaxes(sequences, 0, 1)
    out_spec = jax.eval_shape(lambda x, s: step(x, s)[0], xs[0], states)
    prev0 = jnp.zeros(out_spec.shape, out_spec.dtype)

    if mask is None:

        def body(carry, x_t):
            states, _ = carry
            out, new_states = step(x_t, states)
            return (new_states, out), (out if return_sequences else None)

        scan_xs = xs
    else:
        mask = jnp.asarray(mask).astype(bool)
        if mask.ndim != 2 or mask.shape != sequences.shape[:2]:
            raise ValueError(
                "A recurrent layer's mask must have shape (batch, timesteps) = "
                f"{tuple(sequences.shape[:2])}. Received: mask.shape={tuple(mask.shape)}"
            )
        ms = jnp.swapaxes(mask, 0, 1)  # (T, B)

        def body(carry, inp):
            states, prev_out = carry
            x_t, m_t = inp
            out, new_states = step(x_t, states)
            first = _first_state(states)
            if unroll:  # Keras' unrolled loop repeats the previous output (zeros at first)
                fill = prev_out
            elif zero_output_for_mask:
                fill = jnp.zeros_like(out)
            elif first.shape == out.shape:  # the previous state h: the previous output
                fill = first.astype(out.dtype)
            else:  # a custom cell whose first state is not its output
                fill = prev_out
            out = _batch_where(m_t, out, fill)
            new_states = _batch_where(m_t, new_states, states)
            return (new_states, out), (out if return_sequences else None)

        scan_xs = (xs, ms)

    (final_states, last), outputs = jax.lax.scan(
        body, (states, prev0), scan_xs, reverse=go_backwards, unroll=bool(unroll)
    )
    if return_sequences:
        if go_backwards:
            outputs = jnp.flip(outputs, axis=0)
        outputs = jnp.swapaxes(outputs, 0, 1)
    return last, outputs, final_states


@jax.jit
def run_layer(layer, sequences, states, mask, dp, rec):
    """The layer's loop, jitted on its own so that eager calls reuse one compiled scan per
    configuration and shape (inside an outer jit it is simply inlined)."""
    return rnn_loop(
        lambda x_t, s: layer._step(x_t, s, dp, rec),
        sequences,
        tuple(states),
        mask=mask,
        go_backwards=layer.go_backwards,
        unroll=layer.unroll,
        zero_output_for_mask=layer.zero_output_for_mask,
        return_sequences=layer.return_sequences,
    )
