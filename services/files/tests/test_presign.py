"""POST /api/files/presign/: a real presigned PUT URL for a pending file."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

PRESIGN_KEYS = {"url", "method", "publicUrl", "fileId", "headers", "expiresAt"}


def parse_z(value: str) -> datetime:
    assert value.endswith("Z")
    return datetime.fromisoformat(value.removesuffix("Z")).replace(tzinfo=UTC)


async def test_presign_answers_the_contracts_body(alice, settings, s3_endpoint):
    before = datetime.now(UTC).replace(microsecond=0)
    response = await alice.presign("receipt.jpg", "image/jpeg")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PRESIGN_KEYS
    assert body["method"] == "PUT" and body["headers"] == {"Content-Type": "image/jpeg"}
    key = f"uploads/{alice.user_id}/{body['fileId']}/receipt.jpg"
    assert body["publicUrl"] == f"{s3_endpoint}/{settings.s3_bucket}/{key}"
    url = urlsplit(body["url"])
    assert f"{url.scheme}://{url.netloc}" == s3_endpoint
    assert unquote(url.path) == f"/{settings.s3_bucket}/{key}"
    query = parse_qs(url.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and "X-Amz-Signature" in query
    assert query["X-Amz-Expires"] == ["3600"]
    assert "content-type" in query["X-Amz-SignedHeaders"][0].split(";")
    expires_at = parse_z(body["expiresAt"])
    assert before + timedelta(seconds=3600) <= expires_at <= before + timedelta(seconds=3602)


async def test_new_file_is_pending_with_no_size(alice):
    file_id = (await alice.presign("notes.txt", "text/plain")).json()["fileId"]
    file = (await alice.get(file_id)).json()
    assert (file["status"], file["size"], file["filename"], file["contentType"]) == (
        "pending", None, "notes.txt", "text/plain")


async def test_expiry_is_configurable(serve, member):
    async with serve(presign_expires_seconds=120) as client:
        caller = member(client)
        body = (await caller.presign()).json()
        assert parse_qs(urlsplit(body["url"]).query)["X-Amz-Expires"] == ["120"]
        remaining = parse_z(body["expiresAt"]) - datetime.now(UTC)
        assert timedelta(seconds=100) < remaining <= timedelta(seconds=120)
        download = (await caller.get(body["fileId"])).json()["downloadUrl"]
        assert parse_qs(urlsplit(download).query)["X-Amz-Expires"] == ["120"]


async def test_urls_use_the_public_endpoint_when_one_is_set(serve, member):
    public = "http://files.example.test:9000"
    async with serve(s3_public_endpoint_url=public) as client:
        caller, bucket = member(client), client.app.state.settings.s3_bucket
        body = (await caller.presign()).json()
        assert body["url"].startswith(f"{public}/{bucket}/uploads/")
        assert body["publicUrl"].startswith(f"{public}/{bucket}/uploads/")
        download = (await caller.get(body["fileId"])).json()["downloadUrl"]
        assert download.startswith(f"{public}/{bucket}/uploads/")
        # The service itself still reaches S3 on the internal endpoint.
        assert (await caller.complete(body["fileId"])).status_code == 409


@pytest.mark.parametrize("filename", [..., None, "", "   "])
async def test_missing_or_blank_filename_is_the_contracts_400(alice, filename):
    response = await alice.presign(filename=filename)
    assert (response.status_code, response.json()) == (400, {"error": "filename is required"})


async def test_empty_body_says_the_filename_is_required_first(alice):
    response = await alice.presign(filename=..., content_type=...)
    assert (response.status_code, response.json()) == (400, {"error": "filename is required"})


async def test_missing_content_type_is_a_field_error(alice):
    response = await alice.presign(content_type=...)
    assert (response.status_code, response.json()) == (
        400, {"contentType": ["This field is required."]})


async def test_filename_of_the_wrong_type_is_a_field_error(alice):
    response = await alice.presign(filename=42)
    assert response.status_code == 400 and list(response.json()) == ["filename"]


@pytest.mark.parametrize("content_type", ["image/svg+xml", "text/html", "application/zip", ""])
async def test_content_type_outside_the_allow_list_is_400(alice, content_type):
    response = await alice.presign(content_type=content_type)
    assert response.status_code == 400
    message = response.json()["error"]
    assert "image/jpeg" in message and "video/quicktime" in message


async def test_content_type_is_normalised_and_signed_as_normalised(alice):
    body = (await alice.presign("a.txt", "Text/Plain; charset=utf-8")).json()
    assert body["headers"] == {"Content-Type": "text/plain"}
    assert (await alice.get(body["fileId"])).json()["contentType"] == "text/plain"


async def test_traversal_in_the_filename_stays_in_the_files_folder(alice, settings):
    body = (await alice.presign("../../etc/passwd", "text/plain")).json()
    prefix = f"/{settings.s3_bucket}/uploads/{alice.user_id}/{body['fileId']}/"
    path = unquote(urlsplit(body["url"]).path)
    assert path == prefix + "passwd"
    assert (await alice.get(body["fileId"])).json()["filename"] == "passwd"


async def test_unicode_filename_is_kept_and_url_encoded(alice, settings):
    body = (await alice.presign("résumé 2024.pdf", "application/pdf")).json()
    assert "%C3%A9" in body["publicUrl"] and " " not in body["publicUrl"]
    assert unquote(urlsplit(body["publicUrl"]).path).endswith("/résumé 2024.pdf")
    assert (await alice.get(body["fileId"])).json()["filename"] == "résumé 2024.pdf"


async def test_every_presign_is_a_new_file(alice):
    first = (await alice.presign()).json()["fileId"]
    second = (await alice.presign()).json()["fileId"]
    assert first != second


async def test_no_token_is_401(client):
    response = await client.post("/api/files/presign/",
                                 json={"filename": "a.jpg", "contentType": "image/jpeg"})
    assert response.status_code == 401 and "error" in response.json()
