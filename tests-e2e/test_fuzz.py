"""Schemathesis over the merged ``/api/schema/``: no input a client can send is a 5xx.

Every operation of every service is fuzzed through the gateway (schema-driven examples,
boundary and negative cases, random data, stateful sequences), as a member, and the
admin-only operations once more as an administrator. Half the time a path or body id is
one of a real resource the member owns, so the fuzzer gets past the ``404`` of an
unknown id into the routes' own logic.

``make test`` runs a few examples per operation in both run modes (about a minute each).
``make fuzz`` runs ``FUZZ_EXAMPLES=30`` (the issue's figure) with the same seed; each
run prints its operations, test cases and failures.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
SEED = int(os.environ.get("FUZZ_SEED", "20260101"))
ADMIN_ONLY = r"^/api/(appointments/locations|offers|auth/users)/"

# Path, query and body names that carry the ids of the resources made below.
ID_PARAMETERS = {
    "vehicle": ["path.vehicle_id", "body.vehicleId", "query.vehicleId"],
    "location": ["path.location_id", "body.locationId", "query.locationId"],
    "appointment": ["path.appointment_id"],
    "thread": ["path.thread_id"],
    "offer": ["path.offer_id"],
    "file": ["path.file_id"],
    "user": ["path.user_id"],
}


def _resources(gateway: httpx.Client, users: Any, garage: Any,
               member: dict[str, Any]) -> dict[str, str]:
    """A resource of each kind the member can reach, for the fuzzer to aim at."""
    admin = {"Authorization": f"Bearer {users.admin_token()}"}
    location = gateway.post("/api/appointments/locations/", headers=admin, json={
        "name": "Fuzz Garage", "capacity": 3,
        "hours": {day: ["08:00", "18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}})
    offer = gateway.post("/api/offers/", headers=admin, json={"title": "Fuzz offer"})
    vehicle = garage.create(member["headers"])
    thread = gateway.post("/api/chat/threads/", headers=member["headers"], json={})
    upload = gateway.post("/api/files/presign/", headers=member["headers"], json={
        "filename": "a.png", "contentType": "image/png"})
    for response in (location, offer, thread, upload):
        assert response.status_code in (200, 201), response.text
    availability = gateway.get("/api/appointments/availability/", headers=member["headers"],
                               params={"locationId": location.json()["id"], "date": "2031-01-06"})
    assert availability.status_code == 200, availability.text
    booked = gateway.post("/api/appointments/book/", headers=member["headers"], json={
        "vehicleId": vehicle["id"], "locationId": location.json()["id"],
        "startTime": availability.json()["availableSlots"][0]["start"]})
    assert booked.status_code == 201, booked.text
    return {"vehicle": vehicle["id"], "location": location.json()["id"],
            "appointment": booked.json()["id"], "thread": thread.json()["id"],
            "offer": offer.json()["id"], "file": upload.json()["fileId"], "user": member["id"]}


def _config(resources: dict[str, str]) -> str:
    lines = []
    for kind, value in resources.items():
        lines += [f"[dictionaries.{kind}]", f'values = ["{value}"]', ""]
    lines.append("[parameters]")
    for kind, names in ID_PARAMETERS.items():
        lines += [f'"{name}" = {{ dictionary = "{kind}", probability = 0.5 }}' for name in names]
    return "\n".join(lines) + "\n"


def _schemathesis(workdir: Path, url: str, token: str, *extra: str) -> str:
    """Run the CLI in ``workdir`` (where it keeps its cache); its output, which ends with
    the summary. Fails the test on any failure it reports."""
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file",
               str(workdir / "schemathesis.toml"), "run", f"{url}/api/schema/",
               "--header", f"Authorization: Bearer {token}", "--checks", "not_a_server_error",
               "--max-examples", str(EXAMPLES), "--seed", str(SEED),
               "--generation-database", "none", "--no-color", "--workers", "2", *extra]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True,
                            timeout=1800)
    output = result.stdout + result.stderr
    summary = output[output.rfind("SUMMARY"):] if "SUMMARY" in output else output[-3000:]
    print(summary)
    assert result.returncode == 0, output[-20000:]
    return summary


def _figures(summary: str) -> tuple[int, int]:
    operations = re.search(r"Tested:\s+(\d+)", summary)
    cases = re.search(r"(\d+) generated", summary)
    assert operations and cases, summary
    return int(operations[1]), int(cases[1])


@pytest.mark.timeout(3600)
def test_no_input_gets_a_server_error(gateway, users, garage, member, platform_url,
                                      tmp_path):
    (tmp_path / "schemathesis.toml").write_text(
        _config(_resources(gateway, users, garage, member)))
    token = member["headers"]["Authorization"].removeprefix("Bearer ")
    operations, cases = _figures(_schemathesis(tmp_path, platform_url, token))
    assert operations >= 45 and cases > operations
    admin_operations, _ = _figures(_schemathesis(
        tmp_path, platform_url, users.admin_token(), "--include-path-regex", ADMIN_ONLY))
    assert admin_operations >= 6
