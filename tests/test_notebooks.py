"""The notebooks in `notebooks/` run top to bottom, and are stored without outputs."""

import importlib
import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ["quickstart", "research_loop", "distribution"]
CELL_TIMEOUT_S = 300  # generous: CI machines are small and shared; a hang still ends


def _distribution_missing() -> str | None:
    """Why `fkeras.distribution` (the API the distribution notebook uses) cannot be imported."""
    try:
        module = importlib.import_module("fkeras.distribution")
        for name in ("DataParallel", "ModelParallel", "DeviceMesh", "LayoutMap", "list_devices"):
            getattr(module, name)
    except (ImportError, AttributeError) as error:
        return f"fkeras.distribution cannot be imported yet ({type(error).__name__}: {error})"
    return None


def _kernel_for_this_interpreter(tmp_path, monkeypatch) -> str:
    """A kernelspec that runs this interpreter, so the notebooks see the same environment
    (a user-wide `python3` kernelspec could point at another Python)."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "fkeras-tests"
    spec_dir.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "fkeras tests", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("MPLBACKEND", "Agg")  # headless; `%matplotlib inline` still renders
    return "fkeras-tests"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes_top_to_bottom(name, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    if name == "distribution":
        reason = _distribution_missing()
        if reason:
            pytest.skip(reason)
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    workdir = tmp_path / "work"
    workdir.mkdir()
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name=_kernel_for_this_interpreter(tmp_path, monkeypatch),
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error

    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code_cells] == list(range(1, len(code_cells) + 1))
    errors = [o for c in code_cells for o in c.outputs if o.output_type == "error"]
    assert errors == []
    if name == "quickstart":  # the learning curves were drawn
        images = [o for c in code_cells for o in c.outputs if "image/png" in o.get("data", {})]
        assert len(images) >= 2


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name):
    notebook = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    code_cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code_cells, f"{name}.ipynb has no code"
    dirty = [
        i for i, c in enumerate(code_cells) if c["outputs"] or c["execution_count"] is not None
    ]
    assert dirty == [], (
        f"{name}.ipynb is stored with outputs in code cells {dirty}; clear them with "
        f"`jupyter nbconvert --clear-output --inplace notebooks/{name}.ipynb`"
    )


def test_distribution_notebook_sets_devices_before_any_jax_computation():
    notebook = json.loads((NOTEBOOKS / "distribution.ipynb").read_text())
    first = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    lines = [line.strip() for line in "".join(first["source"]).splitlines() if line.strip()]
    assert lines == ["import jax", 'jax.config.update("jax_num_cpu_devices", 8)']
