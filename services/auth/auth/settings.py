"""Auth service settings (environment variables, embedded-mode defaults)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class AuthSettings(ServiceSettings):
    """Everything the auth service reads from its environment."""

    service_name: str = "auth"
    access_token_ttl_seconds: int = 3600
    refresh_token_ttl_seconds: int = 7 * 24 * 3600
    refresh_token_retention_seconds: int = Field(
        default=24 * 3600, ge=0,
        description="How long an expired or revoked refresh token's row is kept")
    jwt_private_key: str = Field(default="", description="PEM; empty: generated and stored")
    jwt_private_key_file: str = Field(default="", description="Path to a PEM private key")
    jwt_key_id: str = Field(default="", description="kid for a configured key")
    admin_email: str = ""
    admin_password: str = ""
    admin_promote_existing: bool = Field(
        default=False, description="Make an existing non-admin ADMIN_EMAIL account the admin")
    password_hash_time_cost: int = 2
    password_hash_memory_kib: int = 19456
    membership_billing_days: int = 30
