"""One settings pattern for every service: typed, from environment variables.

Every field has a default that gives the embedded mode (SQLite file under
``DATA_DIR``, the in-process event bus), so a fresh clone runs with no setup.
A service subclasses :class:`ServiceSettings` to add its own fields.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Settings every service shares. Environment names are the upper-case field names."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "service"
    data_dir: Path = Field(default=Path("data"), description="Where SQLite files live")
    database_url: str = Field(default="", description="Empty: SQLite file <DATA_DIR>/<service>.db")
    amqp_url: str = Field(default="memory://", description="memory:// is the in-process bus")
    jwks_url: str = Field(default="http://127.0.0.1:8001/api/auth/jwks/")
    log_level: str = "INFO"
    outbox_poll_interval: float = 1.0
    consumer_max_attempts: int = 5
    bus_connect_grace_seconds: float = Field(
        default=5.0, description="How long start-up waits for the broker before serving")
    # The pool of every process is a share of the connection budget (launcher.budget,
    # README "Connection budget"): `make up` sets these two from it; the defaults are the
    # share of one process of the local topology on PostgreSQL's default max_connections.
    database_pool_size: int = Field(
        default=5, ge=1, description="Connections a process keeps open once it has needed them")
    database_max_overflow: int = Field(
        default=6, ge=0, description="Extra connections under load, closed once idle again")
    database_pool_timeout: float = Field(
        default=5.0, gt=0, description="Seconds a checkout waits for a connection, then 503")
    database_idle_timeout: float = Field(
        default=120.0, ge=0,
        description="Seconds before an unused pooled connection is closed (0: never)")
    database_transaction_pooling: bool = Field(
        default=False, description="DATABASE_URL is a transaction-pooling PgBouncer")

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to this service's SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / f'{self.service_name}.db'}"
