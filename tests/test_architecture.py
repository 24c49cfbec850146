"""The layers hold: import-linter's contracts (pyproject.toml), and what importing a module
really loads, checked in a fresh interpreter (a lazy import the linter allows must stay lazy)."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UI = ("textual", "rich")
TRAINING = ("tensorflow", "keras")


def test_import_contracts_hold():
    """`lint-imports` on pyproject.toml: every contract kept, every ignored import still there
    (import-linter fails on an ignore that matches nothing)."""
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; "
            "sys.exit(lint_imports_command())",
            "--no-cache",
            "--no-logo",
            str(REPO / "pyproject.toml"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "BROKEN" not in run.stdout and "Contracts: 6 kept, 0 broken." in run.stdout


def _modules(package: str) -> list[str]:
    pkg = __import__(f"bookrec_tui.{package}", fromlist=["_"])
    return [f"{pkg.__name__}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)]


def _loaded_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """Top-level package names in sys.modules after running ``code`` in a fresh Python."""
    report = "import json, sys; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    script = f"{code}\n{report}"
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    return set(json.loads(run.stdout.strip().splitlines()[-1]))


def _fresh_install_env(home: Path) -> dict[str, str]:
    """As after `pip install .`: the shipped model and catalogue, no data directory, nothing
    fetched (an empty BOOKREC_HOME)."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("BOOKREC_DATA_DIR", "BOOKREC_MODEL_DIR")
    }
    return {**env, "BOOKREC_HOME": str(home)}


FOUNDATION = ["bookrec_tui.errors", "bookrec_tui.paths", "bookrec_tui.fsutil"]


@pytest.mark.parametrize(
    ("layer", "modules", "forbidden"),
    [
        ("core", _modules("core"), (*UI, *TRAINING, "pandas")),
        ("store", _modules("store"), (*UI, *TRAINING)),
        ("chat", _modules("chat"), (*UI, *TRAINING)),
        ("map", _modules("map"), (*UI, *TRAINING)),
        ("foundation", FOUNDATION, (*UI, *TRAINING, "pandas")),
        ("app and command line", ["bookrec_tui.cli", *_modules("tui")], TRAINING),
    ],
)
def test_importing_a_layer_loads_nothing_it_must_not(layer, modules, forbidden):
    assert modules, f"no modules found in {layer}"
    loaded = _loaded_after("\n".join(f"import {m}" for m in modules))
    assert "bookrec_tui" in loaded
    assert not loaded & set(forbidden), f"{layer} loaded {sorted(loaded & set(forbidden))}"


def test_installed_app_loads_its_recommender_without_pandas_or_tensorflow(tmp_path):
    """Recommender.load() from the catalogue packed beside the shipped model (a fresh install,
    no data directory) and a recommendation: no pandas, TensorFlow, Keras or UI. This is what
    the one ignored core -> store import in pyproject.toml allows."""
    loaded = _loaded_after(
        textwrap.dedent(
            """
            from bookrec_tui import Recommender
            rec = Recommender.load()
            assert rec.recommend({4: 5}, n=5)
            """
        ),
        _fresh_install_env(tmp_path),
    )
    assert not loaded & {"pandas", *UI, *TRAINING}, sorted(loaded & {"pandas", *UI, *TRAINING})


def test_the_cli_answers_without_tensorflow(tmp_path):
    """`bookrec-tui search` runs through the CLI module whose `train`/`evaluate` reach
    training lazily (the ignored imports in pyproject.toml): they stay lazy."""
    loaded = _loaded_after(
        "from bookrec_tui.cli import main\nassert main(['search', 'hobbit', '-n', '3']) == 0",
        _fresh_install_env(tmp_path),
    )
    assert not loaded & set(TRAINING)
