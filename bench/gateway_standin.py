"""A tiny FastAPI app standing in for a service in the gateway benchmarks.

``GET /api/auth/me/`` answers a small user object, ``/api/auth/jwks/`` the JWK set
from the ``BENCH_JWKS`` environment variable (JSON), ``/healthz`` ok.
"""

from __future__ import annotations

import json
import os

from fastapi import FastAPI

app = FastAPI()
_JWKS = json.loads(os.environ.get("BENCH_JWKS", '{"keys": []}'))
_USER = {"id": "0d9c1c5e-6f0e-4a53-9d7a-1f1f3f0e9b11", "name": "Bench", "email": "b@example.com",
         "phone": None, "membershipId": None, "referralCode": "REF-ABC123", "rewardsBalance": 0,
         "role": "member", "createdAt": "2026-01-01T00:00:00Z"}


@app.get("/api/auth/me/")
async def me() -> dict:
    return _USER


@app.get("/api/auth/jwks/")
async def jwks() -> dict:
    return _JWKS


@app.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}
