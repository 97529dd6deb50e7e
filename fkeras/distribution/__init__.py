"""Scaling out on `jax.sharding`: device meshes, variable layouts, data and model parallelism,
several processes. Names follow Keras 3's `keras.distribution`.

```python
dist = fk.distribution.DataParallel()                 # every device, batches split
trainer = model.compile(optimizer="adam", loss="mse", distribution=dist)
trainer.fit(x, y, batch_size=64)                      # 64 = the global batch
```
"""

from .distributions import (
    DataParallel,
    Distribution,
    ModelParallel,
    distribution,
    set_distribution,
)
from .layout import LayoutMap
from .mesh import DeviceMesh, list_devices
from .multihost import global_batch, initialize
from .placement import state_shardings, variable_paths

__all__ = [
    "DataParallel",
    "DeviceMesh",
    "Distribution",
    "LayoutMap",
    "ModelParallel",
    "distribution",
    "global_batch",
    "initialize",
    "list_devices",
    "set_distribution",
    "state_shardings",
    "variable_paths",
]
