"""The Telematics part of CONTRACT.md, through the gateway."""

import pytest

from testsupport.apps import wait_until

START = 1_704_067_200_000


def batch(vehicle_id: str, start: int = START, count: int = 10, **extra):
    """A batch of ``count`` one-second samples, with an unknown key (``boost``) in each."""
    samples = [{"t": start + i * 1000, "speed": 40.0 + i, "fuelRate": 2.0,
                "odometer": 15000.0 + i * 0.01, "rpm": 2000, "boost": i} for i in range(count)]
    body = {"vehicleId": vehicle_id, "startTimestamp": start,
            "endTimestamp": start + (count - 1) * 1000, "samples": samples}
    body.update(extra)
    return body


@pytest.fixture
def vehicle(garage, member):
    return garage.create(member["headers"], odometer=100)


def all_samples(gateway, vehicle_id, headers, **params):
    response = gateway.get(f"/api/telematics/{vehicle_id}/samples/", params=params,
                           headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_batch_is_accepted_once_even_when_sent_twice(gateway, member, vehicle):
    path = f"/api/telematics/{vehicle['id']}/"
    first = gateway.post(path, json=batch(vehicle["id"]), headers=member["headers"])
    assert first.status_code == 202
    body = first.json()
    assert body["message"] == "Telemetry batch accepted" and body["accepted"] == 10
    again = gateway.post(path, json=batch(vehicle["id"]), headers=member["headers"])
    assert again.status_code == 202 and again.json()["batchId"] == body["batchId"]
    page = all_samples(gateway, vehicle["id"], member["headers"])
    assert len(page["samples"]) == 10 and page["next"] is None
    assert page["samples"][0]["boost"] == 0 and page["samples"][0]["t"] == START


def test_idempotency_key_dedupes_a_retry(gateway, member, vehicle):
    path = f"/api/telematics/{vehicle['id']}/"
    headers = {**member["headers"], "Idempotency-Key": "retry-1"}
    first = gateway.post(path, json=batch(vehicle["id"], start=START), headers=headers)
    retry = gateway.post(path, json=batch(vehicle["id"], start=START + 5), headers=headers)
    assert retry.status_code == 202 and retry.json()["batchId"] == first.json()["batchId"]


def test_invalid_batches_store_nothing_and_name_the_field(gateway, member, vehicle):
    path = f"/api/telematics/{vehicle['id']}/"
    headers = member["headers"]
    bad_sample = batch(vehicle["id"])
    bad_sample["samples"][3]["speed"] = "fast"
    response = gateway.post(path, json=bad_sample, headers=headers)
    assert response.status_code == 400 and "samples.3.speed" in response.json()
    reversed_window = batch(vehicle["id"], startTimestamp=START + 10_000, endTimestamp=START)
    assert gateway.post(path, json=reversed_window, headers=headers).status_code == 400
    wrong_vehicle = batch(vehicle["id"], vehicleId="someone-else")
    wrong = gateway.post(path, json=wrong_vehicle, headers=headers)
    assert wrong.status_code == 400 and "vehicleId" in wrong.json()
    too_many = batch(vehicle["id"], count=10_001)
    many = gateway.post(path, json=too_many, headers=headers)
    assert many.status_code == 400 and "samples" in many.json()
    assert all_samples(gateway, vehicle["id"], headers)["samples"] == []


def test_samples_page_with_a_cursor_and_filter_inclusively(gateway, member, vehicle):
    headers = member["headers"]
    gateway.post(f"/api/telematics/{vehicle['id']}/", json=batch(vehicle["id"]), headers=headers)
    seen, cursor = [], None
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = all_samples(gateway, vehicle["id"], headers, **params)
        seen += [s["t"] for s in page["samples"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [START + i * 1000 for i in range(10)]
    window = all_samples(gateway, vehicle["id"], headers, **{"from": START + 2000,
                                                              "to": START + 4000})
    assert [s["t"] for s in window["samples"]] == [START + 2000, START + 3000, START + 4000]
    bad = gateway.get(f"/api/telematics/{vehicle['id']}/samples/", params={"limit": "many"},
                      headers=headers)
    assert bad.status_code == 400


def test_summary_and_trips(gateway, member, vehicle):
    headers = member["headers"]
    drive = [{"t": START + i * 10_000, "speed": 50.0, "fuelRate": 3.6, "odometer": 100 + i * 0.14}
             for i in range(30)]
    stop = [{"t": START + 300_000 + i * 10_000, "speed": 0.0, "odometer": 104.2}
            for i in range(15)]
    samples = drive + stop
    body = {"vehicleId": vehicle["id"], "startTimestamp": samples[0]["t"],
            "endTimestamp": samples[-1]["t"], "samples": samples,
            "dtcList": ["P0300"]}
    assert gateway.post(f"/api/telematics/{vehicle['id']}/", json=body,
                        headers=headers).status_code == 202
    summary = gateway.get(f"/api/telematics/{vehicle['id']}/summary/", headers=headers).json()
    assert {"vehicleId", "lastSeenAt", "odometer", "sampleCount", "distance", "avgSpeed",
            "fuelUsed", "activeDtcs", "trips"} <= set(summary)
    assert summary["sampleCount"] == 45 and summary["activeDtcs"] == ["P0300"]
    assert summary["trips"] == 1
    trips = gateway.get(f"/api/telematics/{vehicle['id']}/trips/", headers=headers).json()
    assert len(trips) == 1
    assert set(trips[0]) == {"startedAt", "endedAt", "distance", "avgSpeed", "maxSpeed",
                             "fuelUsed"}
    assert trips[0]["maxSpeed"] == 50.0


async def test_the_vehicle_odometer_follows_telemetry(gateway, member, vehicle):
    headers = member["headers"]
    gateway.post(f"/api/telematics/{vehicle['id']}/", json=batch(vehicle["id"]), headers=headers)

    def odometer() -> float:
        return float(gateway.get(f"/api/vehicles/{vehicle['id']}/", headers=headers
                                 ).json()["odometer"])

    await wait_until(lambda: odometer() >= 15000.09, within=15)
    lower = batch(vehicle["id"], start=START + 60_000)
    for sample in lower["samples"]:
        sample["odometer"] = 10.0
    gateway.post(f"/api/telematics/{vehicle['id']}/", json=lower, headers=headers)
    assert odometer() >= 15000.09


def test_another_users_vehicle_is_404_on_every_telematics_route(gateway, users, bearer,
                                                                vehicle):
    intruder = bearer(users.register()["accessToken"])
    base = f"/api/telematics/{vehicle['id']}/"
    attempts = [
        gateway.post(base, json=batch(vehicle["id"]), headers=intruder),
        gateway.get(f"{base}samples/", headers=intruder),
        gateway.get(f"{base}summary/", headers=intruder),
        gateway.get(f"{base}trips/", headers=intruder),
    ]
    for response in attempts:
        assert response.status_code == 404, response.request.url
        assert response.json() == {"error": "Vehicle not found"}


def test_a_telemetry_body_over_8_mib_is_413(gateway, member, vehicle):
    response = gateway.post(f"/api/telematics/{vehicle['id']}/", content=b"x" * (8 * 2**20 + 1),
                            headers={**member["headers"], "Content-Type": "application/json"})
    assert response.status_code == 413


@pytest.mark.processes_only
def test_ingest_keeps_working_while_vehicles_is_down(gateway, member, vehicle, topology):
    path = f"/api/telematics/{vehicle['id']}/"
    headers = member["headers"]
    assert gateway.post(path, json=batch(vehicle["id"]), headers=headers).status_code == 202
    vehicles = topology.processes["vehicles"][0]
    vehicles.stop()
    try:
        later = gateway.post(path, json=batch(vehicle["id"], start=START + 100_000),
                             headers=headers)
        assert later.status_code == 202
    finally:
        vehicles.start()
        topology.wait_ready(vehicles, progress=lambda _: None)
