"""One settings pattern for every service: typed, from environment variables.

Every field has a default that gives the embedded mode (SQLite file under
``DATA_DIR``, the in-process event bus), so a fresh clone runs with no setup.
A service subclasses :class:`ServiceSettings` to add its own fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.events.delivery import RetryPolicy
from shared.tokens import DEFAULT_AUDIENCE, DEFAULT_ISSUER


class ServiceSettings(BaseSettings):
    """Settings every service shares. Environment names are the upper-case field names."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "service"
    data_dir: Path = Field(default=Path("data"), description="Where SQLite files live")
    database_url: str = Field(default="", description="Empty: SQLite file <DATA_DIR>/<service>.db")
    amqp_url: str = Field(default="memory://", description="memory:// is the in-process bus")
    jwks_url: str = Field(default="http://127.0.0.1:8001/api/auth/jwks/")
    jwt_issuer: str = Field(default=DEFAULT_ISSUER, description="iss of every access token")
    jwt_audience: str = Field(default=DEFAULT_AUDIENCE, description="aud of every access token")
    log_level: str = "INFO"
    outbox_poll_interval: float = 1.0
    consumer_max_attempts: int = Field(
        default=6, ge=1, description="Failed attempts before a message is dead-lettered")
    consumer_retry_delays: Annotated[tuple[float, ...], NoDecode] = Field(
        default=(1.0, 5.0, 30.0, 120.0, 600.0),
        description="Seconds before each retry, comma-separated; the last one repeats")
    consumer_outage_max_delay: float = Field(
        default=10.0, gt=0, description="Longest wait between retries during an outage")
    consumer_dead_letter_suffix: str = Field(
        default=".dlq", min_length=1, description="DLQ of queue Q: Q + this suffix")
    shutdown_timeout_seconds: float = Field(
        default=20.0, ge=0, description="SIGTERM: how long in-flight work may take to finish")
    # A deployment whose migrations run before the app container (Kubernetes: an init
    # container running `python -m shared.migrate <service>`) turns this off, so start-up
    # does no DDL and a migration's duration never counts against the probes.
    migrate_on_startup: bool = Field(
        default=True, description="Apply pending migrations at start-up")
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
    # Published outbox rows are read by nobody (a replay comes from a dead-letter queue,
    # not from the outbox); they are kept a week only to answer "was it published, when?".
    outbox_retention_seconds: float = Field(
        default=7 * 24 * 3600, ge=0, description="Age at which a published outbox row goes")
    # A processed-event marker is what turns a redelivery into a no-op: pruned too early,
    # the same event is applied twice. Redeliveries come from the consumer's retry ladder
    # (minutes), from the outbox relay publishing a row again after a crash between the
    # broker's confirm and marking it (seconds), and from an operator replaying a
    # dead-letter queue, which may hold a copy of an event that another copy already
    # applied, days after the fact. Thirty days outlives all of them.
    processed_events_retention_seconds: float = Field(
        default=30 * 24 * 3600, ge=0, description="Age at which a processed-event marker goes")
    prune_interval_seconds: float = Field(
        default=300.0, gt=0, description="Seconds between two pruning passes")
    prune_batch_size: int = Field(
        default=500, ge=1, description="Rows one pruning statement deletes at most")

    @field_validator("consumer_retry_delays", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(float(part) for part in value.split(",") if part.strip())
        return value

    @property
    def retry_policy(self) -> RetryPolicy:
        """How this service's consumers retry failed deliveries."""
        return RetryPolicy(delays=self.consumer_retry_delays,
                           max_attempts=self.consumer_max_attempts,
                           outage_max_delay=self.consumer_outage_max_delay,
                           dead_letter_suffix=self.consumer_dead_letter_suffix)

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to this service's SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / f'{self.service_name}.db'}"
