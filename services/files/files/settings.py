"""Files service settings (environment variables, embedded-mode defaults)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from shared.settings import ServiceSettings

SIGV4_MAX_EXPIRY_SECONDS = 7 * 24 * 3600
"""S3 refuses SigV4 presigned URLs that live longer than a week."""
MIB = 1024 * 1024


class FilesSettings(ServiceSettings):
    """Everything the files service reads from its environment.

    With no ``S3_ENDPOINT_URL`` and ``S3_EMULATOR`` true (the defaults) the service runs
    moto's S3 server in its own process; with ``S3_EMULATOR=false`` and no endpoint it
    talks to AWS S3 with the default credential chain.
    """

    service_name: str = "files"
    s3_endpoint_url: str = Field(
        default="", description="Where the service reaches S3 (empty: emulator or AWS)")
    s3_public_endpoint_url: str = Field(
        default="", description="The S3 host clients see, for presigned and public URLs "
                                "(empty: the same as S3_ENDPOINT_URL)")
    s3_bucket: str = "membership-auto-files"
    s3_region: str = "us-east-1"
    aws_access_key_id: str = Field(
        default="", description="Empty: the default AWS credential chain")
    aws_secret_access_key: SecretStr = SecretStr("")
    s3_emulator: bool = Field(
        default=True, description="Run moto's S3 server in process when no endpoint is set")
    s3_emulator_port: int = Field(default=0, ge=0, le=65535, description="0: a free port")
    s3_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Connect and read timeout of each S3 call")
    s3_connect_grace_seconds: float = Field(
        default=5.0, ge=0, description="How long start-up waits for the bucket before serving")
    presign_expires_seconds: int = Field(
        default=3600, ge=1, le=SIGV4_MAX_EXPIRY_SECONDS,
        description="Lifetime of presigned upload and download URLs")
    max_upload_bytes: int = Field(
        default=25 * MIB, ge=0,
        description="Largest upload: a bigger size at presign is a 400, a bigger object at "
                    "complete is deleted and a 400")

    @property
    def uses_emulator(self) -> bool:
        """Whether this process runs its own S3 emulator."""
        return self.s3_emulator and not self.s3_endpoint_url
