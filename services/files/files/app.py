"""The files service's app factory: wiring only."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import httpx
from fastapi import FastAPI

from files.api.routes import files
from files.emulator import EMULATOR_ACCESS_KEY, EMULATOR_SECRET_KEY, S3Emulator
from files.models import event_tables
from files.settings import FilesSettings
from files.storage import ObjectStore, StorageConfig, quiet_sdk_loggers
from shared.service import create_service_app
from shared.tokens import JwksSource

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def storage_config(settings: FilesSettings, emulator_url: str | None = None) -> StorageConfig:
    """Where the bucket is: the emulator at ``emulator_url`` (dummy credentials), else the
    configured endpoint, else AWS; the public endpoint defaults to the internal one."""
    if emulator_url is not None:
        return StorageConfig(bucket=settings.s3_bucket, region=settings.s3_region,
                             endpoint_url=emulator_url,
                             public_endpoint_url=settings.s3_public_endpoint_url or None,
                             access_key_id=EMULATOR_ACCESS_KEY,
                             secret_access_key=EMULATOR_SECRET_KEY,
                             timeout_seconds=settings.s3_timeout_seconds)
    return StorageConfig(bucket=settings.s3_bucket, region=settings.s3_region,
                         endpoint_url=settings.s3_endpoint_url or None,
                         public_endpoint_url=settings.s3_public_endpoint_url or None,
                         access_key_id=settings.aws_access_key_id or None,
                         secret_access_key=settings.aws_secret_access_key.get_secret_value()
                         or None,
                         timeout_seconds=settings.s3_timeout_seconds)


def create_app(settings: FilesSettings | None = None, *,
               jwks_source: JwksSource | None = None,
               peers: Mapping[str, httpx.AsyncClient] | None = None) -> FastAPI:
    """The files service.

    At start-up it starts the in-process S3 emulator when configured to
    (``FilesSettings.uses_emulator``), connects to the bucket and creates it if missing,
    waiting at most ``S3_CONNECT_GRACE_SECONDS`` before serving (the bucket keeps being
    retried in the background; ``/readyz`` reports ``storage`` until it answers).
    ``peers`` is part of the factory signature every service shares; the files service
    calls no other service, so it is unused.
    """
    settings = settings or FilesSettings()
    del peers
    quiet_sdk_loggers()
    emulator = S3Emulator(settings.s3_emulator_port) if settings.uses_emulator else None
    tasks: list[asyncio.Task[None]] = []

    async def storage_ready() -> None:
        store: ObjectStore | None = getattr(app.state, "store", None)
        if store is None:
            raise RuntimeError("storage not connected yet")
        await store.ping()

    async def start_storage(app: FastAPI) -> None:
        emulator_url = await asyncio.to_thread(emulator.start) if emulator else None
        store = await ObjectStore.connect(storage_config(settings, emulator_url))
        app.state.store = store
        bucket = asyncio.create_task(store.keep_ensuring_bucket())
        tasks.append(bucket)
        await asyncio.wait({bucket}, timeout=settings.s3_connect_grace_seconds)

    async def stop_storage(_: FastAPI) -> None:
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        tasks.clear()
        if emulator is not None:
            await asyncio.to_thread(emulator.stop)

    app = create_service_app(
        settings=settings, title="Membership Auto — files", event_tables=event_tables,
        migrations=MIGRATIONS, routers=[files.router], jwks_source=jwks_source,
        on_startup=start_storage, on_shutdown=stop_storage,
        readiness_checks={"storage": storage_ready})
    return app
