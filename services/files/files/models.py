"""The files service's tables. It owns the metadata of uploads; the bytes live in S3."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.events import define_event_tables
from shared.models import new_id, timestamp_column, utcnow

PENDING = "pending"
"""Presigned, not known to be in the bucket yet."""
UPLOADED = "uploaded"
"""Seen in the bucket by ``complete``; ``size`` is set."""


class FilesTable(SQLModel, registry=registry()):
    """Base for this service's tables: its own metadata, apart from other services'."""


class StoredFile(FilesTable, table=True):
    """One upload: who owns it, what it is, where it lives in the bucket."""

    __tablename__ = "files"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(max_length=64)
    filename: str = Field(max_length=255, description="sanitised, as in the object key")
    content_type: str = Field(max_length=100)
    object_key: str = Field(max_length=1024)
    size: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    status: str = Field(default=PENDING, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


event_tables = define_event_tables(FilesTable.metadata)
