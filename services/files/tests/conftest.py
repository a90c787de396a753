"""Files service tests: the real app in process, on SQLite and on PostgreSQL, against a
real S3 API.

One moto S3 server (``ThreadedMotoServer``) runs for the whole session on a free port;
each app gets a bucket of its own, created by the app at start-up like in production.
Presigned URLs are used with a real HTTP client, so the bytes really go to the server.
Access tokens are signed with a test RSA key whose JWK set is the app's ``jwks_source``.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import pytest

from files.app import create_app
from files.settings import FilesSettings
from testsupport.apps import TokenSigner, serve_in_process

SIGNER = TokenSigner("files-test-key")


def access_token(user_id: str) -> str:
    """An RS256 access token for ``user_id``, as the auth service issues them."""
    return SIGNER.token(user_id)


def new_bucket() -> str:
    return f"test-files-{uuid.uuid4().hex[:16]}"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server for the whole session (the in-process kind the service also uses)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


Serve = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def serve(database_url: str, s3_endpoint: str) -> Serve:
    """Run a files app with settings ``overrides`` (a fresh bucket on the session's S3
    server by default) and give a client that calls it in process."""

    @asynccontextmanager
    async def serving(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        values: dict[str, Any] = {
            "database_url": database_url, "amqp_url": "memory://",
            "s3_endpoint_url": s3_endpoint, "s3_bucket": new_bucket(),
            "aws_access_key_id": "test", "aws_secret_access_key": "test"}
        values.update(overrides)
        app = create_app(FilesSettings(**values), jwks_source=SIGNER.jwks_source)
        async with serve_in_process(app) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client

    return serving


@pytest.fixture
async def client(serve: Serve) -> AsyncIterator[httpx.AsyncClient]:
    async with serve() as client:
        yield client


@pytest.fixture
def settings(client: httpx.AsyncClient) -> FilesSettings:
    """The settings of the ``client`` fixture's app."""
    settings: FilesSettings = client.app.state.settings  # type: ignore[attr-defined]
    return settings


@pytest.fixture
async def s3() -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client, as a phone would use the presigned URLs."""
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@dataclass
class Member:
    """A caller of the files API: a user id and its token."""

    client: httpx.AsyncClient
    user_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {access_token(self.user_id)}"}

    async def presign(self, filename: Any = "receipt.jpg", content_type: Any = "image/jpeg",
                      **body: Any) -> httpx.Response:
        payload = {"filename": filename, "contentType": content_type, **body}
        payload = {k: v for k, v in payload.items() if v is not ...}
        return await self.client.post("/api/files/presign/", json=payload,
                                      headers=self.headers)

    async def complete(self, file_id: str) -> httpx.Response:
        return await self.client.post(f"/api/files/{file_id}/complete/", headers=self.headers)

    async def get(self, file_id: str) -> httpx.Response:
        return await self.client.get(f"/api/files/{file_id}/", headers=self.headers)

    async def upload(self, s3: httpx.AsyncClient, data: bytes, filename: str = "receipt.jpg",
                     content_type: str = "image/jpeg") -> dict[str, Any]:
        """Presign, PUT ``data`` to the URL, complete: the completed file."""
        presigned = await self.presign(filename, content_type)
        assert presigned.status_code == 200, presigned.text
        body = presigned.json()
        put = await s3.put(body["url"], content=data, headers=body["headers"])
        assert put.status_code == 200, put.text
        completed = await self.complete(body["fileId"])
        assert completed.status_code == 200, completed.text
        return dict(completed.json())


def sigv4_accepts(url: str, request: httpx.Request, secret_key: str) -> bool:
    """Whether S3 would take ``request`` on the presigned ``url``: the URL's SigV4 query
    signature, recomputed over the headers the request really carries.

    moto, the S3 of these tests, checks no presigned signature at all (a forged one is
    accepted), so what real S3 and MinIO do is computed here, by the algorithm of AWS's
    "Authenticating Requests: Using Query Parameters" (unsigned payload).
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)
    signed = params["X-Amz-SignedHeaders"].split(";")
    headers = {name.lower(): " ".join(value.split()) for name, value in
               request.headers.items()}
    canonical_query = "&".join(
        f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}"
        for name, value in sorted(query) if name != "X-Amz-Signature")
    canonical_request = "\n".join([
        request.method, parts.path, canonical_query,
        "".join(f"{name}:{headers.get(name, '')}\n" for name in signed),
        ";".join(signed), "UNSIGNED-PAYLOAD"])
    scope = params["X-Amz-Credential"].split("/", 1)[1]
    string_to_sign = "\n".join([
        "AWS4-HMAC-SHA256", params["X-Amz-Date"], scope,
        hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = f"AWS4{secret_key}".encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, params["X-Amz-Signature"])


@pytest.fixture(name="sigv4_accepts")
def sigv4_accepts_fixture() -> Callable[[str, httpx.Request, str], bool]:
    return sigv4_accepts


@pytest.fixture
def member() -> Callable[[httpx.AsyncClient], Member]:
    """Makes a new caller of the given app."""
    return lambda client: Member(client, str(uuid.uuid4()))


@pytest.fixture
def alice(client: httpx.AsyncClient, member: Callable[[httpx.AsyncClient], Member]) -> Member:
    return member(client)


@pytest.fixture
def bob(client: httpx.AsyncClient, member: Callable[[httpx.AsyncClient], Member]) -> Member:
    return member(client)
