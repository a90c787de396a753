"""Fixtures every test package shares (see shared/shared/pytest_plugin.py)."""

pytest_plugins = ["shared.pytest_plugin"]
