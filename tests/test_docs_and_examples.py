"""The README's code and the Quickstart's main job run as written."""

import pathlib
import re

import fkeras as fk

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_readme_python_snippets_run(capsys):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README should show code"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert "Total params" in capsys.readouterr().out


def test_quickstart_bash_blocks_are_the_ones_ci_runs():
    text = (ROOT / "README.md").read_text()
    quickstart = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", quickstart, flags=re.S)
    assert len(blocks) == 2
    ci = (ROOT / ".ci" / "run").read_text()
    assert (
        "python -m fkeras.examples.digits" in blocks[0] and "python -m fkeras.examples.digits" in ci
    )
    assert "python -m pytest" in blocks[1] and "\npython -m pytest\n" in ci


def test_quickstart_main_job_reaches_high_test_accuracy(capsys):
    from fkeras.examples import digits

    assert digits.main(["--epochs", "12"]) >= 0.95
    assert "test accuracy" in capsys.readouterr().out


def test_research_loop_example_trains_to_high_accuracy():
    from fkeras.examples import research_loop

    (x_train, y_train), (x_test, y_test) = research_loop.load_digits_split(0)
    model = research_loop.train(
        research_loop.build_model(0), x_train, y_train, epochs=15, verbose=False
    )
    assert research_loop.accuracy(model, x_test, y_test) >= 0.95
    assert isinstance(model, fk.Sequential)
