"""The embedded mode (``make run``): gateway and every service in one process.

Each service gets a SQLite file under ``DATA_DIR`` and the in-process event
bus; the gateway calls the services' ASGI apps directly instead of over TCP.
No database or broker needs to be installed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp

from gateway.app import create_app as create_gateway
from gateway.settings import SERVICES as GATEWAY_SERVICES
from gateway.settings import GatewaySettings
from launcher.catalog import SERVICES, load
from shared.logging import configure_logging
from shared.service import peer_client
from shared.tokens import http_jwks_source

log = logging.getLogger("launcher.embedded")


def build_platform(data_dir: Path) -> ASGIApp:
    """Every service on SQLite under ``data_dir`` and the in-process bus, behind the gateway.

    The gateway runs the services' lifespans (migrations, event relay, consumers).
    """
    services: dict[str, Any] = {}
    # In-process clients of the services built so far; each gets those of its peers in the
    # catalogue, for the few calls a service makes to another off the hot path (e.g.
    # telematics asking vehicles about a vehicle its projection has not seen yet).
    peers: dict[str, httpx.AsyncClient] = {}
    for spec in SERVICES:
        settings_class: Any = load(spec.settings)
        # Explicit values win over the environment: in one process, a DATABASE_URL
        # meant for one service must not be used by all of them.
        settings = settings_class(database_url="", amqp_url="memory://", data_dir=data_dir)
        factory: Any = load(spec.factory)
        # Auth comes first in the catalogue and, given no source, reads its own keys.
        jwks = (http_jwks_source("http://auth.internal/api/auth/jwks/", peers["auth"])
                if "auth" in peers else None)
        app = factory(settings, jwks_source=jwks,
                      peers={name: peers[name] for name in spec.peers})
        services[spec.name] = app
        peers[spec.name] = peer_client(f"http://{spec.name}.internal", timeout=5.0,
                                       transport=httpx.ASGITransport(app=app))
    overrides = {f"upstream_{name}": "" for name in GATEWAY_SERVICES if name not in services}
    return create_gateway(GatewaySettings(**overrides), local_apps=services)


def main() -> None:
    """``make run``: serve the whole platform on ``http://127.0.0.1:$PORT``."""
    configure_logging("platform", os.environ.get("LOG_LEVEL", "INFO"), force=True)
    port = int(os.environ.get("PORT", "8000"))
    host = os.environ.get("HOST", "127.0.0.1")
    data_dir = Path(os.environ.get("DATA_DIR", "data")).resolve()
    platform = build_platform(data_dir)
    print(f"Membership Auto (embedded): http://{host}:{port}  "
          f"docs http://{host}:{port}/api/docs/  data in {data_dir}  (Ctrl-C stops)",
          flush=True)
    # proxy_headers off: the gateway decides who the client is (FORWARDED_ALLOW_IPS).
    uvicorn.run(platform, host=host, port=port, log_config=None, lifespan="on",
                loop="uvloop", http="httptools", ws="websockets-sansio", proxy_headers=False)


if __name__ == "__main__":
    main()
