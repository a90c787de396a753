"""The content-type allow-list is exactly CONTRACT.md's."""

import pytest

from files.content_types import ALLOWED_CONTENT_TYPES, allowed_content_type
from shared.errors import BadRequest

CONTRACT_LIST = {"image/jpeg", "image/png", "image/webp", "image/heic", "image/gif",
                 "application/pdf", "video/mp4", "video/quicktime", "text/plain"}


def test_allow_list_is_the_contracts():
    assert set(ALLOWED_CONTENT_TYPES) == CONTRACT_LIST


@pytest.mark.parametrize("content_type", sorted(CONTRACT_LIST))
def test_every_allowed_type_is_accepted_as_is(content_type):
    assert allowed_content_type(content_type) == content_type


@pytest.mark.parametrize(("raw", "expected"), [
    ("IMAGE/JPEG", "image/jpeg"),
    (" image/png ", "image/png"),
    ("text/plain; charset=utf-8", "text/plain"),
    ("Video/QuickTime;foo=bar", "video/quicktime"),
])
def test_case_and_parameters_are_normalised(raw, expected):
    assert allowed_content_type(raw) == expected


@pytest.mark.parametrize("raw", [
    "image/svg+xml", "image/svg+xml; charset=utf-8", "text/html", "application/javascript",
    "application/octet-stream", "application/x-msdownload", "image/jpeg2", "image",
    "image/*", "*/*", "", "  ", "text/plain/extra",
])
def test_other_types_are_refused(raw):
    with pytest.raises(BadRequest) as refused:
        allowed_content_type(raw)
    assert refused.value.status_code == 400


def test_refusal_names_the_allowed_types():
    with pytest.raises(BadRequest) as refused:
        allowed_content_type("image/svg+xml")
    message = refused.value.message
    assert "image/svg+xml" in message
    assert all(content_type in message for content_type in CONTRACT_LIST)
