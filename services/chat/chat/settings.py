"""Chat service settings (environment variables, embedded-mode defaults)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class ChatSettings(ServiceSettings):
    """Everything the chat service reads from its environment.

    WebSocket heartbeats are uvicorn's protocol pings, configured on the server, not
    here: ``UVICORN_WS_PING_INTERVAL`` / ``UVICORN_WS_PING_TIMEOUT`` (see the README).
    """

    service_name: str = "chat"
    files_url: str = Field(
        default="http://127.0.0.1:8007",
        description="The files service, asked whether a message's attachments are the sender's")
    peer_timeout_seconds: float = Field(
        default=2.0, description="Timeout of a call to the files service")
    max_body_length: int = Field(default=10_000, description="Longest message body (characters)")
    max_attachments: int = Field(default=10, description="Most attachments on one message")
    ws_send_timeout_seconds: float = Field(
        default=5.0, description="A socket that takes longer to accept one frame is dropped")
    ws_send_backlog: int = Field(
        default=256, description="Frames waiting for one socket before it is dropped as too slow")
    ws_frames_per_second: float = Field(
        default=500.0, gt=0,
        description="Frames one socket may send a second (bursts up to a second's worth); "
                    "more are answered ERROR, see chat.limits")
    gc_freeze_interval_seconds: float = Field(
        default=5.0, description="How often the heap-freezing policy runs (0: never), "
        "see chat.heap")
    gc_freeze_min_sockets: int = Field(
        default=1000, description="Open sockets below which the heap is never frozen")
