"""Test set-up for the whole repository.

pytest's importlib mode names a test file after its folders (``gateway/tests/x.py``
becomes ``gateway.tests.x``) and registers any parent it cannot find as an empty
namespace package, which would hide the real ``gateway`` or ``shared`` package of the
same name. Importing the real packages first prevents that.

The shared fixtures (real broker and database URLs) live in ``testsupport.pytest_plugin``.

Every test carries the marker of each service it involves, so that ``make test
SERVICE=<name>`` (``pytest -m <name>``) runs what a change to that service touches: a
service's own tests its marker, the catalogue and contract gates every marker, and the
e2e tests the markers ``tests-e2e/conftest.py`` gives them.
"""

import importlib
from pathlib import Path

import pytest

from shared.catalog import NAMES

for _package in ("shared", "gateway", "launcher"):
    importlib.import_module(_package)

pytest_plugins = ["testsupport.pytest_plugin"]


ROOT = Path(__file__).resolve().parent
# The gates every service answers to: the catalogues, the shape, the event and API contracts.
GATES = (ROOT / "launcher/tests/test_catalog.py", ROOT / "launcher/tests/test_service_shape.py",
         ROOT / "gateway/tests/test_catalog.py")


def pytest_configure(config: pytest.Config) -> None:
    for name in NAMES:
        config.addinivalue_line("markers", f"{name}: involves the {name} service")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path.resolve()
        parts = path.relative_to(ROOT).parts if path.is_relative_to(ROOT) else ()
        if path in GATES or "contracts" in parts:
            involved: tuple[str, ...] = tuple(NAMES)
        elif len(parts) > 2 and parts[0] == "services":
            involved = (parts[1],)
        else:
            continue
        for name in involved:
            item.add_marker(name)
