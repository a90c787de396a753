"""``python -m gateway``: serve the gateway alone with uvicorn (uvloop + httptools)."""

from __future__ import annotations

import uvicorn

from gateway.app import create_app
from gateway.settings import GatewaySettings
from shared.logging import configure_logging


def main() -> None:
    """Serve the gateway on ``HOST``:``PORT``."""
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level, force=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        access_log=False,
        log_config=None,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
