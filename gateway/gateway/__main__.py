"""``python -m gateway``: serve the gateway alone with uvicorn (uvloop + httptools)."""

from __future__ import annotations

import uvicorn

from gateway.app import create_app
from gateway.settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    try:
        from shared.logging import configure_logging

        configure_logging("gateway", settings.log_level)
        log_config = None
    except ImportError:  # pragma: no cover
        log_config = uvicorn.config.LOGGING_CONFIG
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        ws="websockets",
        access_log=False,
        log_config=log_config,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
