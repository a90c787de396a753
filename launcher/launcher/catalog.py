"""What the launchers start: the platform's services (``shared.catalog``) and the gateway.

Adding a service is one entry in ``shared/shared/catalog.py`` (and its package in
``launcher/pyproject.toml``); both run modes read it from there.
"""

from __future__ import annotations

import importlib

from shared.catalog import GATEWAY_PORT, SERVICES, ServiceEntry

__all__ = ["GATEWAY_FACTORY", "GATEWAY_PORT", "SERVICES", "ServiceEntry", "load"]

GATEWAY_FACTORY = "gateway.app:create_app"


def load(path: str) -> object:
    """Import ``module:attribute``."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)
