"""The Files part of CONTRACT.md, through the gateway.

The bytes go where a phone would send them: straight to the presigned S3 URLs (the
files service's own in-process S3 emulator in both modes), never through the gateway.
"""

import os
import uuid
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import pytest

FILE_KEYS = {"id", "filename", "contentType", "size", "status", "publicUrl", "createdAt"}


@pytest.fixture
def s3():
    """A plain HTTP client for the presigned URLs."""
    with httpx.Client(timeout=30) as client:
        yield client


def presign(gateway, headers, filename="receipt.jpg", content_type="image/jpeg"):
    response = gateway.post("/api/files/presign/", headers=headers,
                            json={"filename": filename, "contentType": content_type})
    assert response.status_code == 200, response.text
    return response.json()


def upload(gateway, s3, headers, data, filename="receipt.jpg", content_type="image/jpeg"):
    """Presign, PUT the bytes, complete: the completed file."""
    presigned = presign(gateway, headers, filename, content_type)
    assert s3.put(presigned["url"], content=data, headers=presigned["headers"]
                  ).status_code == 200
    completed = gateway.post(f"/api/files/{presigned['fileId']}/complete/", headers=headers)
    assert completed.status_code == 200, completed.text
    return completed.json()


def test_presign_put_complete_download_round_trip(gateway, member, s3):
    headers = member["headers"]
    data = os.urandom(100_000)
    presigned = presign(gateway, headers, "brake pads.png", "image/png")
    assert set(presigned) == {"url", "method", "publicUrl", "fileId", "headers", "expiresAt"}
    assert presigned["method"] == "PUT" and presigned["headers"] == {"Content-Type": "image/png"}
    assert presigned["expiresAt"].endswith("Z") and "X-Amz-Signature=" in presigned["url"]
    key = f"uploads/{member['id']}/{presigned['fileId']}/brake pads.png"
    assert unquote(urlsplit(presigned["publicUrl"]).path).endswith(f"/{key}")
    assert s3.put(presigned["url"], content=data, headers=presigned["headers"]
                  ).status_code == 200
    completed = gateway.post(f"/api/files/{presigned['fileId']}/complete/", headers=headers)
    assert completed.status_code == 200
    file = completed.json()
    assert set(file) == FILE_KEYS
    assert (file["id"], file["filename"], file["contentType"], file["size"], file["status"]) == (
        presigned["fileId"], "brake pads.png", "image/png", len(data), "uploaded")
    assert file["publicUrl"] == presigned["publicUrl"] and file["createdAt"].endswith("Z")
    read = gateway.get(f"/api/files/{presigned['fileId']}/", headers=headers)
    assert read.status_code == 200
    body = read.json()
    assert set(body) == FILE_KEYS | {"downloadUrl"}
    download = s3.get(body["downloadUrl"])
    assert download.status_code == 200 and download.content == data


def test_new_file_is_pending_and_completing_before_the_upload_is_409(gateway, member):
    headers = member["headers"]
    file_id = presign(gateway, headers, "later.pdf", "application/pdf")["fileId"]
    pending = gateway.get(f"/api/files/{file_id}/", headers=headers).json()
    assert (pending["status"], pending["size"]) == ("pending", None)
    early = gateway.post(f"/api/files/{file_id}/complete/", headers=headers)
    assert early.status_code == 409 and isinstance(early.json()["error"], str)


def test_completing_twice_is_fine(gateway, member, s3):
    file = upload(gateway, s3, member["headers"], b"hello", "hello.txt", "text/plain")
    again = gateway.post(f"/api/files/{file['id']}/complete/", headers=member["headers"])
    assert again.status_code == 200 and again.json() == file


def test_another_users_file_is_404_on_every_route(gateway, member, users, bearer, s3):
    file = upload(gateway, s3, member["headers"], b"mine")
    intruder = bearer(users.register()["accessToken"])
    for response in (gateway.get(f"/api/files/{file['id']}/", headers=intruder),
                     gateway.post(f"/api/files/{file['id']}/complete/", headers=intruder)):
        assert (response.status_code, response.json()) == (404, {"error": "File not found"})


@pytest.mark.parametrize("file_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_unknown_or_malformed_id_is_404(gateway, member, file_id):
    for response in (gateway.get(f"/api/files/{file_id}/", headers=member["headers"]),
                     gateway.post(f"/api/files/{file_id}/complete/",
                                  headers=member["headers"])):
        assert (response.status_code, response.json()) == (404, {"error": "File not found"})


def test_every_route_needs_a_token(gateway, member):
    file_id = presign(gateway, member["headers"])["fileId"]
    for response in (
            gateway.post("/api/files/presign/",
                         json={"filename": "a.jpg", "contentType": "image/jpeg"}),
            gateway.post(f"/api/files/{file_id}/complete/"),
            gateway.get(f"/api/files/{file_id}/")):
        assert response.status_code == 401 and "error" in response.json()


def test_presign_validation_errors(gateway, member):
    headers = member["headers"]
    for body in ({"contentType": "image/jpeg"}, {"filename": "", "contentType": "image/jpeg"}):
        response = gateway.post("/api/files/presign/", json=body, headers=headers)
        assert (response.status_code, response.json()) == (
            400, {"error": "filename is required"})
    missing_type = gateway.post("/api/files/presign/", json={"filename": "a.jpg"},
                                headers=headers)
    assert (missing_type.status_code, missing_type.json()) == (
        400, {"contentType": ["This field is required."]})
    for content_type in ("image/svg+xml", "text/html", "application/x-sh"):
        refused = gateway.post("/api/files/presign/", headers=headers,
                               json={"filename": "a.svg", "contentType": content_type})
        assert refused.status_code == 400 and "image/jpeg" in refused.json()["error"]


def test_traversal_in_the_filename_stays_in_the_files_folder(gateway, member, s3):
    file = upload(gateway, s3, member["headers"], b"root:x:0:0", "../../etc/passwd",
                  "text/plain")
    assert file["filename"] == "passwd"
    path = unquote(urlsplit(file["publicUrl"]).path)
    assert path.endswith(f"/uploads/{member['id']}/{file['id']}/passwd")


def test_paths_without_the_trailing_slash_work_too(gateway, member):
    response = gateway.post("/api/files/presign", headers=member["headers"],
                            json={"filename": "a.gif", "contentType": "image/gif"})
    assert response.status_code == 200
    file_id = response.json()["fileId"]
    assert gateway.get(f"/api/files/{file_id}", headers=member["headers"]).status_code == 200


MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # the default cap


def test_an_upload_over_the_cap_is_deleted_at_complete(gateway, member, s3):
    headers = member["headers"]
    presigned = presign(gateway, headers, "dashcam.mp4", "video/mp4")
    put = s3.put(presigned["url"], content=b"\0" * (MAX_UPLOAD_BYTES + 1),
                 headers=presigned["headers"])
    assert put.status_code == 200  # no size was declared: S3 takes it, complete does not
    path = f"/api/files/{presigned['fileId']}/"
    response = gateway.post(f"{path}complete/", headers=headers)
    assert (response.status_code, response.json()) == (400, {"error": "File too large"})
    file = gateway.get(path, headers=headers).json()
    assert (file["status"], file["size"]) == ("pending", None)
    assert s3.get(file["downloadUrl"]).status_code == 404  # the object is gone
    # Exactly the cap is fine.
    s3.put(presigned["url"], content=b"\0" * MAX_UPLOAD_BYTES, headers=presigned["headers"])
    completed = gateway.post(f"{path}complete/", headers=headers)
    assert (completed.status_code, completed.json()["size"]) == (200, MAX_UPLOAD_BYTES)


def test_a_declared_size_is_capped_and_signed_into_the_url(gateway, member, s3):
    headers = member["headers"]
    too_big = gateway.post("/api/files/presign/", headers=headers, json={
        "filename": "a.mp4", "contentType": "video/mp4", "size": MAX_UPLOAD_BYTES + 1})
    assert (too_big.status_code, too_big.json()) == (400, {"error": "File too large"})
    bad = gateway.post("/api/files/presign/", headers=headers, json={
        "filename": "a.mp4", "contentType": "video/mp4", "size": -1})
    assert bad.status_code == 400 and list(bad.json()) == ["size"]
    data = os.urandom(5000)
    response = gateway.post("/api/files/presign/", headers=headers, json={
        "filename": "scan.pdf", "contentType": "application/pdf", "size": len(data)})
    assert response.status_code == 200
    presigned = response.json()
    assert presigned["method"] == "PUT"
    assert presigned["headers"] == {"Content-Type": "application/pdf",
                                    "Content-Length": str(len(data))}
    signed_headers = dict(parse_qsl(urlsplit(presigned["url"]).query))["X-Amz-SignedHeaders"]
    assert "content-length" in signed_headers.split(";")
    assert s3.put(presigned["url"], content=data, headers=presigned["headers"]
                  ).status_code == 200
    completed = gateway.post(f"/api/files/{presigned['fileId']}/complete/", headers=headers)
    assert (completed.status_code, completed.json()["size"]) == (200, len(data))
