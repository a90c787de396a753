"""The bucket at start-up, the in-process emulator, readiness, and what reaches the logs."""

import logging
from urllib.parse import urlsplit

import httpx
import pytest
from moto.server import ThreadedMotoServer

from files.emulator import RedactQueryStrings
from shared.net import free_port
from testsupport.apps import wait_until


async def test_readiness_includes_storage(client):
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "storage": "ok"}


async def test_emulator_mode_serves_real_bytes_and_stops_with_the_app(serve, member, s3,
                                                                      s3_endpoint):
    async with serve(s3_endpoint_url="", s3_emulator=True) as client:
        caller = member(client)
        presigned = (await caller.presign("clip.mp4", "video/mp4")).json()
        emulator = urlsplit(presigned["url"])
        assert emulator.hostname == "127.0.0.1"
        assert f"{emulator.scheme}://{emulator.netloc}" != s3_endpoint
        await s3.put(presigned["url"], content=b"\x00\x01video", headers=presigned["headers"])
        assert (await caller.complete(presigned["fileId"])).json()["size"] == 7
        download = (await caller.get(presigned["fileId"])).json()["downloadUrl"]
        assert (await s3.get(download)).content == b"\x00\x01video"
    with pytest.raises(httpx.ConnectError):
        await s3.get(download)


async def test_bucket_is_created_once_and_kept_across_restarts(serve, member, s3):
    async with serve(s3_bucket="files-restart-test") as client:
        caller = member(client)
        file = await caller.upload(s3, b"kept", "kept.txt", "text/plain")
    async with serve(s3_bucket="files-restart-test") as client:
        caller.client = client
        assert (await client.get("/readyz")).status_code == 200
        download = (await caller.get(file["id"])).json()["downloadUrl"]
        assert (await s3.get(download)).content == b"kept"


async def test_start_up_does_not_wait_for_s3_and_the_bucket_follows_when_it_is_up(serve,
                                                                                   member):
    port = free_port()
    async with serve(s3_endpoint_url=f"http://127.0.0.1:{port}",
                     s3_connect_grace_seconds=0.2, s3_timeout_seconds=1) as client:
        not_ready = await client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["checks"]["storage"].startswith("failed")
        caller = member(client)
        presigned = await caller.presign()
        assert presigned.status_code == 200  # presigning is local work
        completed = await caller.complete(presigned.json()["fileId"])
        assert (completed.status_code, completed.json()) == (
            503, {"error": "Service unavailable: storage"})
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await wait_until(ready, within=30, interval=0.2)
            assert (await caller.complete(presigned.json()["fileId"])).status_code == 409
        finally:
            server.stop()


async def test_logs_never_contain_presigned_urls(serve, member, s3, caplog):
    caplog.set_level(logging.DEBUG)
    async with serve(s3_endpoint_url="", s3_emulator=True, log_level="DEBUG") as client:
        caller = member(client)
        presigned = (await caller.presign("secret.pdf", "application/pdf")).json()
        await caller.complete(presigned["fileId"])
        await s3.put(presigned["url"], content=b"%PDF", headers=presigned["headers"])
        await caller.complete(presigned["fileId"])
        download = (await caller.get(presigned["fileId"])).json()["downloadUrl"]
        await s3.get(download)
        await s3.get(download + "tampered")
    # httpx/httpcore lines are this test's own client playing the phone, not the service.
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert records  # the service did log: the check below is not vacuous
    text = "".join(f"{record.getMessage()} {record.__dict__}" for record in records)
    for marker in ("X-Amz-Signature", "X-Amz-Credential", urlsplit(download).query):
        assert marker not in text


def test_redaction_cuts_query_strings_out_of_log_lines():
    record = logging.LogRecord("werkzeug", logging.WARNING, __file__, 1,
                               '"%s" %s', ("GET /b/k?X-Amz-Signature=abc&X-Amz-Date=1 HTTP/1.1",
                                           "403"), None)
    assert RedactQueryStrings().filter(record)
    assert record.getMessage() == '"GET /b/k?<redacted> HTTP/1.1" 403'
