"""Gateway configuration, from environment variables only (documented defaults)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.http_upstream import HopTimeouts
from gateway.upstream_pool import PoolLimits
from shared.catalog import NAMES
from shared.tokens import DEFAULT_AUDIENCE, DEFAULT_ISSUER

_POOL, _HOP = PoolLimits(), HopTimeouts()

# The platform's services (shared.catalog): one UPSTREAM_<NAME> field each, below.
SERVICES = NAMES


class GatewaySettings(BaseSettings):
    """Every field is read from the environment variable of the same name (upper case).

    ``UPSTREAM_<SERVICE>`` is a comma-separated list of base URLs (requests are spread
    round-robin over them); an empty value means the service is not deployed.
    """

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    upstream_auth: str = "http://127.0.0.1:8001"
    upstream_vehicles: str = "http://127.0.0.1:8002"
    upstream_telematics: str = "http://127.0.0.1:8003"
    upstream_appointments: str = "http://127.0.0.1:8004"
    upstream_engagement: str = "http://127.0.0.1:8005"
    upstream_chat: str = "http://127.0.0.1:8006"
    upstream_files: str = "http://127.0.0.1:8007"

    jwks_path: str = "/api/auth/jwks/"
    jwt_algorithms: str = "RS256,EdDSA"
    jwt_issuer: str = DEFAULT_ISSUER
    jwt_audience: str = DEFAULT_AUDIENCE
    jwks_min_refresh_seconds: float = 5.0

    max_body_bytes: int = 1024 * 1024
    max_body_bytes_telemetry: int = 8 * 1024 * 1024
    # The upstream hop (README, "The upstream hop"): each deadline is its own setting. The
    # defaults are the pool's and the hop's own (gateway.upstream_pool, gateway.http_upstream).
    upstream_timeout_seconds: float = _HOP.response_head  # for the response head: 504
    upstream_connect_timeout_seconds: float = _POOL.connect_timeout  # 504
    upstream_stream_idle_timeout_seconds: float = _HOP.stream_idle  # silence mid-response: cut
    request_body_timeout_seconds: float = 60.0  # for the client's whole body: 408
    # Per upstream base URL: past max connections a request waits up to the pool timeout,
    # then 503 with Retry-After.
    upstream_max_connections: int = _POOL.max_connections
    upstream_pool_timeout_seconds: float = _POOL.pool_timeout
    upstream_max_idle_connections: int = _POOL.max_idle
    # Below uvicorn's 5 s keep-alive: the gateway retires an idle connection before the
    # service closes it under a request.
    upstream_idle_timeout_seconds: float = _POOL.idle_timeout
    # Recycling and re-resolving let a replica added later take its share within seconds.
    upstream_connection_max_age_seconds: float = _POOL.max_age
    upstream_connection_max_requests: int = _POOL.max_requests
    upstream_resolve_interval_seconds: float = _POOL.resolve_interval
    # What a 503 for a service that is down or not deployed tells clients to wait: about
    # the time `make up` (or an orchestrator) takes to bring a crashed process back.
    upstream_unavailable_retry_after_seconds: int = 2

    cors_allowed_origins: str = "http://localhost:3000,http://localhost:3001,http://127.0.0.1:3000"

    rate_limit_login_failures_per_email: int = 5
    rate_limit_login_failures_per_email_window_seconds: float = 15 * 60
    rate_limit_login_failures_per_ip: int = 50
    rate_limit_login_failures_per_ip_window_seconds: float = 60
    rate_limit_register_per_ip: int = 30
    rate_limit_register_per_ip_window_seconds: float = 60
    # Where the limits live (README, "Edge limits"). Empty: in this process's memory, which
    # holds only for one gateway; every replica of a deployment shares one Redis.
    redis_url: str = ""
    redis_key_prefix: str = "ma:gateway:limits:"
    # Past this a limit check counts as failed: the login is refused with a 503.
    redis_timeout_seconds: float = 1.0
    redis_max_connections: int = 32
    # Proxies whose X-Forwarded-For (or Forwarded) names the client, for the per-address
    # limits: comma-separated addresses or CIDRs, "*" for any. Empty: the TCP peer.
    forwarded_allow_ips: str = ""
    forwarded_header: str = "X-Forwarded-For"

    openapi_fetch_timeout_seconds: float = 3.0
    openapi_cache_seconds: float = 10.0
    readiness_timeout_seconds: float = 2.0

    log_level: str = "INFO"
    host: str = "0.0.0.0"
    port: int = 8000

    def upstream_urls(self, service: str) -> list[str]:
        """The base URLs configured for ``service`` (empty list: not deployed)."""
        raw: str = getattr(self, f"upstream_{service}")
        return [url.strip().rstrip("/") for url in raw.split(",") if url.strip()]

    @property
    def pool_limits(self) -> PoolLimits:
        return PoolLimits(
            max_connections=self.upstream_max_connections,
            max_idle=self.upstream_max_idle_connections,
            pool_timeout=self.upstream_pool_timeout_seconds,
            connect_timeout=self.upstream_connect_timeout_seconds,
            idle_timeout=self.upstream_idle_timeout_seconds,
            max_age=self.upstream_connection_max_age_seconds,
            max_requests=self.upstream_connection_max_requests,
            resolve_interval=self.upstream_resolve_interval_seconds,
        )

    @property
    def hop_timeouts(self) -> HopTimeouts:
        return HopTimeouts(response_head=self.upstream_timeout_seconds,
                           stream_idle=self.upstream_stream_idle_timeout_seconds)

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.cors_allowed_origins.split(",") if o.strip()]

    @property
    def algorithms(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in self.jwt_algorithms.split(",") if a.strip())
