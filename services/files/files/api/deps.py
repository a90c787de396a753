"""Dependencies specific to the files service (the one place that reads ``app.state``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from files.settings import FilesSettings
from files.storage import ObjectStore
from shared.deps import get_settings


def get_store(request: Request) -> ObjectStore:
    store: ObjectStore = request.app.state.store
    return store


SettingsDep = Annotated[FilesSettings, Depends(get_settings)]
StoreDep = Annotated[ObjectStore, Depends(get_store)]
