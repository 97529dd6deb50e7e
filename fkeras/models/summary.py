"""`model.summary()`: a Keras-style table of layers, output shapes and parameter counts."""

from __future__ import annotations

import jax
import numpy as np

from ..core.tree import partition


def _size(tree) -> tuple[int, int]:
    """(number of values, bytes) of the array leaves of `tree`."""
    leaves = [x for x in jax.tree_util.tree_leaves(tree) if hasattr(x, "dtype")]
    return (
        sum(int(np.prod(x.shape)) for x in leaves),
        sum(int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize for x in leaves),
    )


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GB"  # pragma: no cover


def _shape_text(shape) -> str:
    if isinstance(shape, list):
        return ", ".join(_shape_text(s) for s in shape)
    return str(tuple(shape)) if shape is not None else "?"


def _table(header: list[str], rows: list[list[str]], width: int | None) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) + 2 for i in range(len(header))]
    if width is not None and sum(widths) + len(widths) + 1 < width:
        widths[0] += width - (sum(widths) + len(widths) + 1)

    def line(left, mid, right, fill="─"):
        return left + mid.join(fill * w for w in widths) + right

    def row(cells, sep="│"):
        # The parameter count (column 2) is right-aligned, as in Keras.
        return (
            sep
            + sep.join(
                f"{c} ".rjust(w) if i == 2 else f" {c}".ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths))
            )
            + sep
        )

    out = [line("┏", "┳", "┓", "━"), row(header, "┃"), line("┡", "╇", "┩", "━")]
    for i, r in enumerate(rows):
        out.append(row(r))
        out.append(line("├", "┼", "┤") if i < len(rows) - 1 else line("└", "┴", "┘"))
    if not rows:
        out.append(line("└", "┴", "┘"))
    return out


def render_summary(model, line_length: int | None = None) -> str:
    from .base import layer_name

    shapes = model._layer_output_shapes()
    connections = model._connections() if hasattr(model, "_connections") else None
    header = ["Layer (type)", "Output Shape", "Param #"]
    if connections is not None:
        header.append("Connected to")
    rows = []
    for i, layer in enumerate(model.layers):
        count, _ = _size(layer)
        row = [f"{layer_name(layer)} ({type(layer).__name__})", _shape_text(shapes[i]), str(count)]
        if connections is not None:
            row.append(", ".join(connections[i]) or "-")
        rows.append(row)
    params, state, _ = partition(model)
    n_params, b_params = _size(params)
    n_state, b_state = _size(state)
    lines = [f'Model: "{model.name}"', *_table(header, rows, line_length)]
    lines += [
        f" Total params: {n_params + n_state:,} ({_bytes(b_params + b_state)})",
        f" Trainable params: {n_params:,} ({_bytes(b_params)})",
        f" Non-trainable params: {n_state:,} ({_bytes(b_state)})",
    ]
    return "\n".join(lines)
