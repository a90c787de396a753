"""Fixtures for the shared library's tests.

The broker and database fixtures (``amqp_url``, ``postgres_admin_url``, ``postgres_url``,
``database_url``) come from ``shared.pytest_plugin``, registered for the whole repository
by the root ``conftest.py``; their URL resolution lives in ``shared.testing``.
"""

from __future__ import annotations

import importlib
import sys

# pytest's importlib mode names the files here ``shared.tests.*`` and, if the real
# ``shared`` package has not been imported yet, registers the folder ``shared/`` as a bare
# namespace package ``shared`` that hides it. Put the real package back.
if getattr(sys.modules.get("shared"), "__file__", None) is None:
    sys.modules.pop("shared", None)
    importlib.import_module("shared")
