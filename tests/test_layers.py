"""The import rules of docs/architecture.md, read from the code (every import, also those inside
functions): apps import only the apps below them, and the formats library imports no app."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Lowest first: an app may import the apps before it in this list, never those after it.
LAYERS = ["datasets", "jobs", "annotations", "exports", "api"]
FORMATS_LIBRARY = "annotations.formats"


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def python_files(folder: str) -> list[Path]:
    return [p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts]


def app_of(module: str) -> str | None:
    if module == FORMATS_LIBRARY or module.startswith(FORMATS_LIBRARY + "."):
        return None  # the no-Django library every app may use
    top = module.split(".")[0]
    return top if top in LAYERS else None


@pytest.mark.parametrize("app", LAYERS)
def test_an_app_imports_only_the_apps_below_it(app):
    above = set(LAYERS[LAYERS.index(app) + 1:])
    wrong = sorted(f"{path.relative_to(ROOT)} imports {module}"
                   for path in python_files(app) for module in imported_modules(path)
                   if app_of(module) in above)
    assert not wrong, "\n".join(wrong)


def test_the_formats_library_imports_no_app_and_no_django():
    wrong = sorted(f"{path.relative_to(ROOT)} imports {module}"
                   for path in python_files("annotations/formats")
                   for module in imported_modules(path)
                   if module.split(".")[0] in {"django", "django_q", "nexus", *LAYERS} and
                   not module.startswith(FORMATS_LIBRARY))
    assert not wrong, "\n".join(wrong)
