"""Mixed precision (Keras 3's `keras.mixed_precision`): dtype policies and the global policy.

```python
fk.mixed_precision.set_global_policy("mixed_bfloat16")  # float32 weights, bfloat16 compute
layer = fk.layers.Dense(10, dtype="float32")  # a per-layer override
```

Loss scaling for `"mixed_float16"`: `fk.mixed_precision.LossScaleOptimizer` (as in Keras),
an optax transformation whose state holds the scale.
"""

from ..core.dtype_policy import (
    DTypePolicy,
    global_policy,
    policy_scope,
    set_global_policy,
)
from ..core.dtype_policy import get as get_policy
from ..optimizers.loss_scale import LossScaleOptimizer, LossScaleState, get_loss_scale

# Keras 3's other spellings: `Policy`, `dtype_policy()` and `set_dtype_policy()`.
Policy = DTypePolicy
dtype_policy = global_policy
set_dtype_policy = set_global_policy

__all__ = [
    "DTypePolicy",
    "LossScaleOptimizer",
    "LossScaleState",
    "Policy",
    "dtype_policy",
    "get_loss_scale",
    "get_policy",
    "global_policy",
    "policy_scope",
    "set_dtype_policy",
    "set_global_policy",
]
