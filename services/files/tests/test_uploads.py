"""Complete and read: the whole round trip with real bytes, and who may see what."""

import os
import uuid

import pytest

FILE_KEYS = {"id", "filename", "contentType", "size", "status", "publicUrl", "createdAt"}


async def test_round_trip_presign_put_complete_download(alice, s3):
    data = os.urandom(256 * 1024) + b"\x00\xff end"
    presigned = (await alice.presign("photo.png", "image/png")).json()
    put = await s3.put(presigned["url"], content=data, headers=presigned["headers"])
    assert put.status_code == 200
    completed = await alice.complete(presigned["fileId"])
    assert completed.status_code == 200
    file = completed.json()
    assert set(file) == FILE_KEYS
    assert (file["id"], file["status"], file["size"]) == (presigned["fileId"], "uploaded",
                                                          len(data))
    assert (file["filename"], file["contentType"]) == ("photo.png", "image/png")
    assert file["publicUrl"] == presigned["publicUrl"] and file["createdAt"].endswith("Z")
    read = await alice.get(presigned["fileId"])
    assert read.status_code == 200
    body = read.json()
    assert set(body) == FILE_KEYS | {"downloadUrl"}
    assert {k: v for k, v in body.items() if k != "downloadUrl"} == file
    download = await s3.get(body["downloadUrl"])
    assert download.status_code == 200 and download.content == data
    assert download.headers["content-type"] == "image/png"


async def test_complete_before_the_upload_is_409_and_stays_pending(alice):
    file_id = (await alice.presign()).json()["fileId"]
    response = await alice.complete(file_id)
    assert response.status_code == 409 and isinstance(response.json()["error"], str)
    assert (await alice.get(file_id)).json()["status"] == "pending"


async def test_completing_twice_answers_the_file_again(alice, s3):
    file = await alice.upload(s3, b"hello", "hello.txt", "text/plain")
    again = await alice.complete(file["id"])
    assert again.status_code == 200 and again.json() == file


async def test_complete_records_the_latest_size_of_the_object(alice, s3):
    presigned = (await alice.presign("notes.txt", "text/plain")).json()
    await s3.put(presigned["url"], content=b"first", headers=presigned["headers"])
    assert (await alice.complete(presigned["fileId"])).json()["size"] == 5
    await s3.put(presigned["url"], content=b"second version", headers=presigned["headers"])
    assert (await alice.complete(presigned["fileId"])).json()["size"] == 14


async def test_empty_file_completes_with_size_zero(alice, s3):
    assert (await alice.upload(s3, b"", "empty.txt", "text/plain"))["size"] == 0


async def test_pending_file_has_a_download_url_too(alice, s3):
    file_id = (await alice.presign("later.txt", "text/plain")).json()["fileId"]
    body = (await alice.get(file_id)).json()
    assert body["status"] == "pending" and body["downloadUrl"].startswith("http")
    assert (await s3.get(body["downloadUrl"])).status_code == 404


async def test_another_users_file_is_404_on_every_route(alice, bob, s3):
    file = await alice.upload(s3, b"private", "private.txt", "text/plain")
    for response in (await bob.get(file["id"]), await bob.complete(file["id"])):
        assert (response.status_code, response.json()) == (404, {"error": "File not found"})
    assert (await alice.get(file["id"])).status_code == 200


async def test_another_users_pending_file_cannot_be_completed(alice, bob):
    file_id = (await alice.presign()).json()["fileId"]
    response = await bob.complete(file_id)
    assert (response.status_code, response.json()) == (404, {"error": "File not found"})


@pytest.mark.parametrize("file_id", [str(uuid.uuid4()), "not-a-uuid", "presign", "1",
                                     "' OR 1=1 --", "x" * 300])
async def test_unknown_or_malformed_id_is_404(alice, file_id):
    for response in (await alice.get(file_id), await alice.complete(file_id)):
        assert (response.status_code, response.json()) == (404, {"error": "File not found"})


async def test_id_in_upper_case_finds_the_same_file(alice):
    file_id = (await alice.presign()).json()["fileId"]
    response = await alice.get(file_id.upper())
    assert response.status_code == 200 and response.json()["id"] == file_id


async def test_routes_need_a_token(client, alice):
    file_id = (await alice.presign()).json()["fileId"]
    for response in (await client.get(f"/api/files/{file_id}/"),
                     await client.post(f"/api/files/{file_id}/complete/"),
                     await client.get(f"/api/files/{file_id}/",
                                      headers={"Authorization": "Bearer not-a-token"})):
        assert response.status_code == 401 and "error" in response.json()
