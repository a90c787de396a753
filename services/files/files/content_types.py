"""Which content types may be uploaded (CONTRACT.md's allow-list, nothing more).

Photos, PDFs, short videos and plain text. Anything a browser would run when the object
is opened from the bucket's host (``text/html``, ``image/svg+xml`` with its scripts,
``application/javascript``) stays out.
"""

from __future__ import annotations

from shared.errors import BadRequest

ALLOWED_CONTENT_TYPES: tuple[str, ...] = (
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/heic",
    "image/gif",
    "application/pdf",
    "video/mp4",
    "video/quicktime",
    "text/plain",
)

NOT_ALLOWED = "Content type not allowed: {given}. Allowed: {allowed}"


def allowed_content_type(raw: str) -> str:
    """The media type of ``raw``, lower-cased and without parameters, if it is allowed.

    ``Image/JPEG`` and ``text/plain; charset=utf-8`` are accepted as ``image/jpeg`` and
    ``text/plain``: the upload is signed for that exact value, which the presign response
    hands back in ``headers``. Anything else is a ``400``.
    """
    media_type = raw.split(";", 1)[0].strip().lower()
    if media_type not in ALLOWED_CONTENT_TYPES:
        shown = raw.strip()[:100] or "(empty)"
        raise BadRequest(NOT_ALLOWED.format(given=shown,
                                            allowed=", ".join(ALLOWED_CONTENT_TYPES)))
    return media_type
