"""The benchmark scripts import what the package still has.

They import lazily inside ``main`` (to keep ``--help`` fast), so nothing else notices when a
name they use is renamed or folded away: benchmarks/bench_train.py failed on import for hours
after ``EmbeddingsAlone`` became ``ranking_parts``. This reads every ``from bookrec_tui...
import name`` in benchmarks/ and checks the module has the name (importing the package
modules only, never running a benchmark)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def package_imports() -> list[tuple[str, str, str]]:
    """(script, module, name) for every ``from bookrec_tui... import name`` in benchmarks/."""
    found = []
    for script in sorted(BENCHMARKS.glob("*.py")):
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bookrec_tui"):
                found += [(script.name, node.module, alias.name) for alias in node.names]
    return found


def test_the_benchmarks_import_from_the_package():
    assert len(package_imports()) > 10  # the scripts are read at all


@pytest.mark.parametrize(("script", "module", "name"), package_imports())
def test_each_name_a_benchmark_imports_exists(script, module, name):
    imported = importlib.import_module(module)
    assert hasattr(imported, name) or importlib.util.find_spec(f"{module}.{name}"), (
        f"benchmarks/{script}: {module} has no {name}"
    )
