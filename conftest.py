"""Test set-up for the whole repository.

pytest's importlib mode names a test file after its folders (``gateway/tests/x.py``
becomes ``gateway.tests.x``) and registers any parent it cannot find as an empty
namespace package, which would hide the real ``gateway`` or ``shared`` package of the
same name. Importing the real packages first prevents that.

The shared fixtures (real broker and database URLs) live in ``shared.pytest_plugin``.
"""

import importlib

for _package in ("shared", "gateway", "launcher"):
    importlib.import_module(_package)

pytest_plugins = ["shared.pytest_plugin"]
