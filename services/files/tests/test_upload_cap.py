"""The upload cap (MAX_UPLOAD_BYTES): a declared ``size`` is checked at presign and signed
into the URL as its Content-Length; ``complete`` deletes an object over the cap."""

import os

import httpx
import pytest

from files.settings import FilesSettings

SECRET = "test"  # the conftest's aws_secret_access_key, which signs every URL here
TOO_LARGE = (400, {"error": "File too large"})


def put_request(presigned: dict, data: bytes, *, with_length_header: bool = True
                ) -> httpx.Request:
    """The PUT a client sends: ``data`` with the presign response's headers (httpx sets
    Content-Length from ``data`` when the header is not given)."""
    headers = dict(presigned["headers"])
    if not with_length_header:
        headers.pop("Content-Length", None)
    return httpx.Request("PUT", presigned["url"], content=data, headers=headers)


def test_the_default_cap_is_25_mib():
    assert FilesSettings().max_upload_bytes == 25 * 1024 * 1024


async def test_a_declared_size_is_signed_as_the_content_length(alice, s3, sigv4_accepts):
    data = os.urandom(3000)
    response = await alice.presign("scan.pdf", "application/pdf", size=len(data))
    assert response.status_code == 200, response.text
    presigned = response.json()
    assert presigned["method"] == "PUT"
    assert presigned["headers"] == {"Content-Type": "application/pdf",
                                    "Content-Length": str(len(data))}
    exact = put_request(presigned, data)
    assert sigv4_accepts(presigned["url"], exact, SECRET)
    assert (await s3.send(exact)).status_code == 200
    completed = await alice.complete(presigned["fileId"])
    assert (completed.status_code, completed.json()["size"]) == (200, len(data))


@pytest.mark.parametrize("other_length", [0, 2999, 3001, 10 * 1024 * 1024])
async def test_a_put_of_another_length_does_not_match_the_signature(alice, sigv4_accepts,
                                                                   other_length):
    presigned = (await alice.presign("scan.pdf", "application/pdf", size=3000)).json()
    other = put_request(presigned, b"x" * other_length, with_length_header=False)
    assert other.headers["content-length"] == str(other_length)
    assert not sigv4_accepts(presigned["url"], other, SECRET)


async def test_without_a_size_the_length_is_not_signed(alice, sigv4_accepts):
    presigned = (await alice.presign("a.txt", "text/plain")).json()
    assert presigned["headers"] == {"Content-Type": "text/plain"}
    assert "content-length" not in presigned["url"].lower()
    for data in (b"", b"any length at all"):
        assert sigv4_accepts(presigned["url"], put_request(presigned, data), SECRET)


async def test_the_signature_check_refuses_a_forged_signature_or_content_type(
        alice, sigv4_accepts):
    presigned = (await alice.presign("a.txt", "text/plain", size=5)).json()
    forged = {**presigned, "url": presigned["url"][:-4] + "0000"}
    assert not sigv4_accepts(forged["url"], put_request(forged, b"hello"), SECRET)
    html = httpx.Request("PUT", presigned["url"], content=b"hello",
                         headers={"Content-Type": "text/html"})
    assert not sigv4_accepts(presigned["url"], html, SECRET)


async def test_a_declared_size_over_the_cap_is_400_at_presign(serve, member):
    async with serve(max_upload_bytes=1000) as client:
        caller = member(client)
        assert (await caller.presign(size=1000)).status_code == 200
        response = await caller.presign(size=1001)
        assert (response.status_code, response.json()) == TOO_LARGE


async def test_the_default_cap_refuses_25_mib_plus_one_at_presign(alice):
    response = await alice.presign(size=25 * 1024 * 1024 + 1)
    assert (response.status_code, response.json()) == TOO_LARGE
    assert (await alice.presign(size=25 * 1024 * 1024)).status_code == 200


@pytest.mark.parametrize("size", [-1, "10", 1.5, True, [1]])
async def test_a_size_that_is_not_a_non_negative_integer_is_a_field_error(alice, size):
    response = await alice.presign(size=size)
    assert response.status_code == 400 and list(response.json()) == ["size"]


async def test_null_size_is_the_same_as_none(alice):
    response = await alice.presign(size=None)
    assert response.status_code == 200
    assert "Content-Length" not in response.json()["headers"]


async def test_complete_deletes_an_object_over_the_cap_and_answers_400(serve, member, s3):
    async with serve(max_upload_bytes=1024) as client:
        caller = member(client)
        presigned = (await caller.presign("big.txt", "text/plain")).json()
        put = await s3.put(presigned["url"], content=b"x" * 1025,
                           headers=presigned["headers"])
        assert put.status_code == 200  # no size declared: S3 takes any length
        response = await caller.complete(presigned["fileId"])
        assert (response.status_code, response.json()) == TOO_LARGE
        file = (await caller.get(presigned["fileId"])).json()
        assert (file["status"], file["size"]) == ("pending", None)
        assert (await s3.get(file["downloadUrl"])).status_code == 404  # deleted
        assert (await caller.complete(presigned["fileId"])).status_code == 409
        # The same URL takes a smaller file afterwards.
        await s3.put(presigned["url"], content=b"x" * 1024, headers=presigned["headers"])
        completed = await caller.complete(presigned["fileId"])
        assert (completed.status_code, completed.json()["size"]) == (200, 1024)


async def test_an_uploaded_file_replaced_by_an_oversized_object_goes_back_to_pending(
        serve, member, s3):
    async with serve(max_upload_bytes=10) as client:
        caller = member(client)
        presigned = (await caller.presign("a.txt", "text/plain")).json()
        await s3.put(presigned["url"], content=b"small", headers=presigned["headers"])
        assert (await caller.complete(presigned["fileId"])).json()["status"] == "uploaded"
        await s3.put(presigned["url"], content=b"x" * 11, headers=presigned["headers"])
        assert (await caller.complete(presigned["fileId"])).json() == TOO_LARGE[1]
        file = (await caller.get(presigned["fileId"])).json()
        assert (file["status"], file["size"]) == ("pending", None)
