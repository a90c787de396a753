"""Request and response bodies of the files service (camelCase on the wire)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt

from files.models import StoredFile
from shared.schemas import CamelModel, UtcDateTime


class PresignIn(CamelModel):
    """``POST /api/files/presign/``.

    Both fields are optional here only so that a missing filename gets the contract's
    own message (``{"error": "filename is required"}``) from :mod:`files.uploads`, before
    anything is said about the content type.
    """

    filename: str | None = Field(default=None, description="sanitised before use")
    content_type: str | None = Field(default=None, description="one of the allowed types")
    size: StrictInt | None = Field(
        default=None, ge=0,
        description="bytes the client will PUT, if known: signed into the URL as its "
                    "Content-Length, and at most MAX_UPLOAD_BYTES")


class PresignOut(CamelModel):
    """Where and how to PUT the bytes: ``url`` with exactly ``headers``, before ``expiresAt``."""

    url: str
    method: Literal["PUT"] = "PUT"
    public_url: str
    file_id: str
    headers: dict[str, str]
    expires_at: UtcDateTime


class FileOut(CamelModel):
    """The contract's ``file`` (``size`` is null until the upload is completed)."""

    id: str
    filename: str
    content_type: str
    size: int | None
    status: str
    public_url: str
    created_at: UtcDateTime

    @classmethod
    def of(cls, file: StoredFile, public_url: str) -> FileOut:
        """The response body for ``file``."""
        return cls(id=file.id, filename=file.filename, content_type=file.content_type,
                   size=file.size, status=file.status, public_url=public_url,
                   created_at=file.created_at)


class FileWithDownloadOut(FileOut):
    """``GET /api/files/{id}/``: the ``file`` plus a presigned GET ``downloadUrl``."""

    download_url: str

    @classmethod
    def with_download(cls, file: StoredFile, public_url: str,
                      download_url: str) -> FileWithDownloadOut:
        """The response body for ``file`` and its download URL."""
        return cls(**FileOut.of(file, public_url).model_dump(by_alias=False),
                   download_url=download_url)

