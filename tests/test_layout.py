"""The tests' own layout: no test module imports another (shared factories, strategies and
helpers live in ``tests/factories.py``, ``tests/strategies.py``, ``tests/helpers.py`` and
the few modules beside them), so that each test module can be read, moved or deleted alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent


def _is_test_module(module: str) -> bool:
    return module.split(".")[-1].startswith("test_")


def imports_of_test_modules(path: Path) -> list[str]:
    """The test modules ``path`` imports, absolutely or relatively."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [alias.name for alias in node.names]
            if _is_test_module(module) or any(_is_test_module(n) for n in names):
                found.append(module or ".".join(names))
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if _is_test_module(a.name)]
    return found


def test_no_test_module_imports_another() -> None:
    offenders = {
        str(path.relative_to(TESTS)): imports_of_test_modules(path)
        for path in sorted(TESTS.rglob("test_*.py"))
    }
    assert {path: found for path, found in offenders.items() if found} == {}


def test_the_check_sees_absolute_and_relative_imports(tmp_path: Path) -> None:
    module = tmp_path / "test_example.py"
    module.write_text(
        "from tests.test_other import helper\n"
        "from . import test_sibling\n"
        "import tests.domain.test_spells\n"
        "from tests.factories import make_org\n"
    )
    found = imports_of_test_modules(module)
    assert found == ["tests.test_other", "test_sibling", "tests.domain.test_spells"]
