"""moto's S3 server inside this process: the S3 of the embedded and local modes.

Started when no ``S3_ENDPOINT_URL`` is configured and ``S3_EMULATOR`` is true, so a
fresh clone uploads and downloads real bytes through presigned URLs with nothing else
installed. moto is the optional ``ma-files[emulator]`` extra: imported only here, only
when the emulator is used. Objects live in memory and go away with the process.
"""

from __future__ import annotations

import logging
import re
from typing import Any

EMULATOR_HOST = "127.0.0.1"
EMULATOR_ACCESS_KEY = "emulator"
"""Dummy credentials: moto accepts any, but boto3 refuses to sign without some."""
EMULATOR_SECRET_KEY = "emulator-secret"

_QUERY_STRING = re.compile(r"\?[^\s\"']*")


class RedactQueryStrings(logging.Filter):
    """Cuts query strings out of a log line: a presigned URL's query is its credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _QUERY_STRING.sub("?<redacted>", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def _quiet_request_log() -> None:
    # The emulator's HTTP server (werkzeug) logs every request line at INFO, presigned
    # query string included: keep its warnings and errors only, and redact those too.
    logger = logging.getLogger("werkzeug")
    logger.setLevel(max(logger.level, logging.WARNING))
    if not any(isinstance(f, RedactQueryStrings) for f in logger.filters):
        logger.addFilter(RedactQueryStrings())


class S3Emulator:
    """A moto S3 server on a thread; :meth:`start` and :meth:`stop` block (use a thread)."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._server: Any = None

    def start(self) -> str:
        """Start serving and return the endpoint URL (``port`` 0 picks a free port)."""
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as exc:
            raise RuntimeError("the S3 emulator needs moto: install ma-files[emulator], or set "
                               "S3_ENDPOINT_URL (or S3_EMULATOR=false for AWS)") from exc
        _quiet_request_log()
        self._server = ThreadedMotoServer(ip_address=EMULATOR_HOST, port=self.port,
                                          verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.port = port
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving (the objects it held are gone)."""
        if self._server is not None:
            self._server.stop()
            self._server = None
