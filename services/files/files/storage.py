"""The S3 bucket behind the files service, through boto3 only.

:class:`ObjectStore` is all the service knows of S3: presign an upload or a download,
ask whether an object exists (and how big it is), delete one, make sure the bucket
exists. It holds two clients because a presigned URL is signed for a host: ``internal``
reaches S3 the way this process can (``http://minio:9000`` in docker compose),
``public`` signs for the host clients use (``http://localhost:9000``). Path-style
addressing and SigV4 everywhere, so any S3-compatible store (MinIO, moto) works like AWS.

boto3 is synchronous: every call runs in a worker thread (``asyncio.to_thread``) so the
event loop never waits on S3. Presigning is local work, but with the default AWS
credential chain the first one may fetch credentials over the network, so it goes to a
thread as well.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.errors import ServiceUnavailable

log = logging.getLogger("files.storage")

STORAGE_UNAVAILABLE = "Service unavailable: storage"
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


@dataclass(frozen=True)
class StorageConfig:
    """Where the bucket is and how to sign for it (built from the settings)."""

    bucket: str
    region: str
    endpoint_url: str | None = None
    public_endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    timeout_seconds: float = 5.0


def quiet_sdk_loggers() -> None:
    """Keep signed requests out of the logs.

    botocore's and urllib3's DEBUG output carries request URLs and ``Authorization``
    headers; a process-wide ``LOG_LEVEL=DEBUG`` must not turn them on.
    """
    for name in ("boto3", "botocore", "s3transfer", "urllib3"):
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.level, logging.WARNING))


def _is_missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code", "")) in _MISSING


class ObjectStore:
    """One bucket: presigned URLs, object sizes, bucket creation."""

    def __init__(self, config: StorageConfig) -> None:
        self.bucket = config.bucket
        self.region = config.region
        session = boto3.session.Session(
            aws_access_key_id=config.access_key_id or None,
            aws_secret_access_key=config.secret_access_key or None,
            region_name=config.region)
        client_config = Config(
            signature_version="s3v4", s3={"addressing_style": "path"},
            connect_timeout=config.timeout_seconds, read_timeout=config.timeout_seconds,
            retries={"max_attempts": 2, "mode": "standard"})
        self._internal: Any = session.client("s3", endpoint_url=config.endpoint_url or None,
                                             config=client_config)
        public_endpoint = config.public_endpoint_url or config.endpoint_url or None
        self._public: Any = session.client("s3", endpoint_url=public_endpoint,
                                           config=client_config)

    @classmethod
    async def connect(cls, config: StorageConfig) -> ObjectStore:
        """A store for ``config`` (making boto3 clients loads large JSON models: a thread)."""
        return await asyncio.to_thread(cls, config)

    def public_url(self, key: str) -> str:
        """The object's plain (unsigned) URL on the public host."""
        endpoint = str(self._public.meta.endpoint_url).rstrip("/")
        return f"{endpoint}/{self.bucket}/{quote(key, safe='/~')}"

    async def presign_put(self, key: str, content_type: str, expires_in: int,
                          size: int | None = None) -> str:
        """A URL that lets its holder PUT ``key`` with exactly this ``Content-Type`` and,
        when ``size`` is given, exactly that ``Content-Length`` (both are signed headers:
        S3 refuses a PUT whose values differ)."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key,
                                  "ContentType": content_type}
        if size is not None:
            params["ContentLength"] = size
        return await self._presign("put_object", params, expires_in)

    async def presign_get(self, key: str, expires_in: int) -> str:
        """A URL that lets its holder GET ``key``."""
        return await self._presign("get_object", {"Bucket": self.bucket, "Key": key},
                                   expires_in)

    async def _presign(self, method: str, params: dict[str, Any], expires_in: int) -> str:
        try:
            url: str = await asyncio.to_thread(self._public.generate_presigned_url, method,
                                               Params=params, ExpiresIn=expires_in)
        except BotoCoreError as exc:  # e.g. no credentials anywhere in the chain
            raise self._unavailable("presign", exc) from exc
        return url

    async def object_size(self, key: str) -> int | None:
        """The size in bytes of ``key``, or ``None`` when it is not in the bucket."""
        try:
            head = await asyncio.to_thread(self._internal.head_object, Bucket=self.bucket,
                                           Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise self._unavailable("head_object", exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("head_object", exc) from exc
        return int(head["ContentLength"])

    async def delete(self, key: str) -> None:
        """Delete ``key`` (nothing happens when it is not there)."""
        try:
            await asyncio.to_thread(self._internal.delete_object, Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable("delete_object", exc) from exc

    async def ensure_bucket(self) -> None:
        """Create the bucket unless it exists (idempotent; raises while S3 is unreachable)."""
        await asyncio.to_thread(self._ensure_bucket)

    def _ensure_bucket(self) -> None:
        try:
            self._internal.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if not _is_missing(exc):
                raise
        options: dict[str, Any] = {}
        if self.region != "us-east-1":  # the one region S3 refuses a LocationConstraint for
            options["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self._internal.create_bucket(Bucket=self.bucket, **options)
        except ClientError as exc:
            # Another process of this service created it meanwhile.
            if str(exc.response.get("Error", {}).get("Code", "")) != "BucketAlreadyOwnedByYou":
                raise
        log.info("bucket created", extra={"event": "bucket_created", "bucket": self.bucket})

    async def keep_ensuring_bucket(self, first_delay: float = 0.5,
                                   max_delay: float = 10.0) -> None:
        """:meth:`ensure_bucket`, retried with backoff until S3 answers.

        Start-up runs it as a task: S3 being down for a while delays the bucket (and
        readiness), it does not stop the service from starting.
        """
        delay = first_delay
        while True:
            try:
                await self.ensure_bucket()
                return
            except Exception as exc:  # S3 down, refusing, misconfigured: keep trying
                log.warning("storage unavailable, retrying", extra={
                    "event": "storage_unavailable", "operation": "ensure_bucket",
                    "error": type(exc).__name__, "retryIn": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_delay)

    async def ping(self) -> None:
        """Raise unless the bucket answers (the ``storage`` readiness check)."""
        await asyncio.to_thread(self._internal.head_bucket, Bucket=self.bucket)

    @staticmethod
    def _unavailable(operation: str, exc: Exception) -> ServiceUnavailable:
        # Only the operation and the error's type: messages may quote request URLs.
        log.warning("storage call failed", extra={
            "event": "storage_unavailable", "operation": operation,
            "error": type(exc).__name__})
        return ServiceUnavailable(STORAGE_UNAVAILABLE)
