"""Every service has the shape of docs/adding-a-service.md.

``shape_problems`` returns what differs, so a test can show it finds a service that
drifts, not only that none does today.
"""

from __future__ import annotations

import ast
import inspect
import shutil
from pathlib import Path

from launcher.catalog import SERVICES, load
from shared.events.catalog import QUEUES

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ("app.py", "api/__init__.py", "api/deps.py", "api/routes/__init__.py",
            "models.py", "schemas.py", "settings.py")
FACTORY = ["settings", "jwks_source", "peers"]
WEB = ("fastapi", "starlette")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    names |= {node.module for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module}
    return {name.split(".")[0] for name in names}


def shape_problems(folder: Path, name: str, *, has_events: bool) -> list[str]:
    """How ``services/<name>`` (at ``folder``) differs from the shape."""
    package = folder / name
    problems = [f"{name}: no {part}" for part in REQUIRED if not (package / part).is_file()]
    problems += [f"{name}: no {part}/" for part in ("migrations", "tests")
                 if not (folder / part).is_dir()]
    if has_events and not (package / "events.py").is_file():
        problems.append(f"{name}: publishes or consumes events but has no events.py")
    routes = sorted((package / "api" / "routes").glob("[!_]*.py"))
    if not routes:
        problems.append(f"{name}: no route module in api/routes/")
    for route in routes:
        if "app.state" in route.read_text():
            problems.append(f"{name}: {route.name} reads app.state (api/deps.py does)")
    for module in sorted(package.glob("*.py")):
        if module.name != "app.py" and _imports(module) & set(WEB):
            problems.append(f"{name}: domain module {module.name} imports FastAPI/Starlette")
    return problems


def test_every_service_has_the_shape() -> None:
    problems = []
    for service in SERVICES:
        consumes = any(queue.split(".")[0] == service.name for queue in QUEUES)
        has_events = bool(service.publishes) or consumes
        problems += shape_problems(ROOT / "services" / service.name, service.name,
                                   has_events=has_events)
        factory = load(service.factory)
        if list(inspect.signature(factory).parameters) != FACTORY:
            problems.append(f"{service.name}: create_app{inspect.signature(factory)}")
    assert problems == []


def test_a_service_that_drifts_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "vehicles"
    shutil.copytree(ROOT / "services" / "vehicles", folder,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "vehicles" / "api" / "deps.py").unlink()
    (folder / "vehicles" / "events.py").unlink()
    route = folder / "vehicles" / "api" / "routes" / "vehicles.py"
    route.write_text(route.read_text() + "\nSTATE = 'request.app.state'\n")
    (folder / "vehicles" / "garage.py").write_text("from fastapi import Request\n")
    assert shape_problems(folder, "vehicles", has_events=True) == [
        "vehicles: no api/deps.py",
        "vehicles: publishes or consumes events but has no events.py",
        "vehicles: vehicles.py reads app.state (api/deps.py does)",
        "vehicles: domain module garage.py imports FastAPI/Starlette",
    ]
