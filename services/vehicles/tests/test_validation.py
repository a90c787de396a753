"""Request validation: every error is a 400 with the contract's field map, never 422/500."""

import json
from datetime import UTC, datetime

import pytest

REQUIRED = ["This field is required."]


def vehicle_body(vin_value, **fields):
    body = {"vin": vin_value, "make": "Honda", "model": "Civic", "year": 2020}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not ...}


async def create(member, body):
    return await member.post("/api/vehicles/", body)


async def test_missing_vin_is_this_field_is_required(alice, unique_vin):
    response = await create(alice, vehicle_body(...))
    assert response.status_code == 400
    assert response.json() == {"vin": REQUIRED}


@pytest.mark.parametrize("field", ["make", "model", "year"])
async def test_make_model_and_year_are_required_on_create(alice, unique_vin, field):
    response = await create(alice, vehicle_body(unique_vin(), **{field: ...}))
    assert response.status_code == 400 and response.json() == {field: REQUIRED}


async def test_empty_body_lists_every_required_field(alice):
    response = await create(alice, {})
    assert response.status_code == 400
    assert response.json() == {"vin": REQUIRED, "make": REQUIRED, "model": REQUIRED,
                               "year": REQUIRED}


async def test_no_body_is_400(alice):
    response = await alice.client.post("/api/vehicles/", headers=alice.headers)
    assert response.status_code == 400 and "nonFieldErrors" in response.json()


@pytest.mark.parametrize("letter", ["I", "O", "Q", "i", "o", "q"])
async def test_vin_with_i_o_or_q_is_rejected(alice, letter):
    response = await create(alice, vehicle_body(f"1HGBH41JXMN10918{letter}"))
    assert response.status_code == 400 and list(response.json()) == ["vin"]


@pytest.mark.parametrize("vin", ["1HGBH41JXMN10918-", "1HGBH41JXMN10918 6", "1HGBH41JXMN10918é"])
async def test_vin_with_other_than_letters_and_digits_is_rejected(alice, vin):
    response = await create(alice, vehicle_body(vin))
    assert response.status_code == 400 and list(response.json()) == ["vin"]


@pytest.mark.parametrize("vin", ["1HGBH41JXMN10918", "1HGBH41JXMN1091866", ""])
async def test_vin_of_the_wrong_length_is_rejected(alice, vin):
    response = await create(alice, vehicle_body(vin))
    assert response.status_code == 400
    assert response.json() == {"vin": ["Ensure this field has exactly 17 characters."]}


async def test_year_before_1900_is_rejected(alice, unique_vin):
    response = await create(alice, vehicle_body(unique_vin(), year=1899))
    assert response.status_code == 400 and list(response.json()) == ["year"]


async def test_year_after_next_year_plus_one_is_rejected(alice, unique_vin):
    too_new = datetime.now(UTC).year + 3
    response = await create(alice, vehicle_body(unique_vin(), year=too_new))
    assert response.status_code == 400 and list(response.json()) == ["year"]


@pytest.mark.parametrize("offset", [None, 2])
async def test_year_bounds_are_inclusive(alice, unique_vin, offset):
    year = 1900 if offset is None else datetime.now(UTC).year + offset
    response = await create(alice, vehicle_body(unique_vin(), year=year))
    assert response.status_code == 201 and response.json()["year"] == year


async def test_unknown_fuel_type_is_rejected(alice, unique_vin):
    response = await create(alice, vehicle_body(unique_vin(), fuelType="steam"))
    assert response.status_code == 400 and list(response.json()) == ["fuelType"]


@pytest.mark.parametrize("fuel", ["gasoline", "diesel", "electric", "hybrid", "plugin_hybrid",
                                  "other"])
async def test_every_listed_fuel_type_is_accepted(alice, unique_vin, fuel):
    response = await create(alice, vehicle_body(unique_vin(), fuelType=fuel))
    assert response.status_code == 201 and response.json()["fuelType"] == fuel


async def test_negative_odometer_is_rejected(alice, unique_vin):
    response = await create(alice, vehicle_body(unique_vin(), odometer=-0.5))
    assert response.status_code == 400
    assert response.json() == {"odometer": ["Ensure this value is greater than or equal to 0."]}


@pytest.mark.parametrize(("field", "value"), [
    ("vin", 12345678901234567), ("make", 42), ("model", ["Civic"]), ("year", "2020"),
    ("year", 2020.5), ("year", True), ("odometer", "15000"), ("odometer", False),
    ("odometer", {"km": 1}), ("trim", 7), ("licensePlate", 123), ("fuelType", 1),
    ("make", None), ("year", None),
])
async def test_wrong_json_types_are_400(alice, unique_vin, field, value):
    response = await create(alice, vehicle_body(unique_vin(), **{field: value}))
    assert response.status_code == 400 and list(response.json()) == [field]


@pytest.mark.parametrize("body", [[], "vehicle", 17, None])
async def test_a_body_that_is_not_an_object_is_400(alice, body):
    response = await alice.client.post("/api/vehicles/", content=json.dumps(body),
                                       headers={**alice.headers,
                                                "Content-Type": "application/json"})
    assert response.status_code == 400


async def test_malformed_json_is_400(alice):
    response = await alice.client.post("/api/vehicles/", content=b'{"vin": ',
                                       headers={**alice.headers,
                                                "Content-Type": "application/json"})
    assert response.status_code == 400


async def test_blank_make_is_rejected(alice, unique_vin):
    response = await create(alice, vehicle_body(unique_vin(), make="   "))
    assert response.status_code == 400
    assert response.json() == {"make": ["This field may not be blank."]}


async def test_patch_validates_the_vin(alice):
    vehicle = await alice.create_vehicle()
    response = await alice.patch(f"/api/vehicles/{vehicle['id']}/", {"vin": "1HGBH41JXMN10918O"})
    assert response.status_code == 400 and list(response.json()) == ["vin"]


async def test_patch_rejects_a_negative_odometer(alice):
    vehicle = await alice.create_vehicle(odometer=100)
    response = await alice.patch(f"/api/vehicles/{vehicle['id']}/", {"odometer": -1})
    assert response.status_code == 400 and list(response.json()) == ["odometer"]
    assert (await alice.get(f"/api/vehicles/{vehicle['id']}/")).json()["odometer"] == 100


async def test_patch_rejects_a_year_out_of_range_and_a_bad_fuel_type(alice):
    vehicle = await alice.create_vehicle()
    response = await alice.patch(f"/api/vehicles/{vehicle['id']}/",
                                 {"year": 1800, "fuelType": "coal"})
    assert response.status_code == 400 and set(response.json()) == {"year", "fuelType"}


@pytest.mark.parametrize("field", ["vin", "make", "model", "year", "odometer"])
async def test_patch_may_not_null_a_required_field(alice, field):
    vehicle = await alice.create_vehicle()
    response = await alice.patch(f"/api/vehicles/{vehicle['id']}/", {field: None})
    assert response.status_code == 400
    assert response.json() == {field: ["This field may not be null."]}


async def test_patch_with_wrong_types_is_400(alice):
    vehicle = await alice.create_vehicle()
    response = await alice.patch(f"/api/vehicles/{vehicle['id']}/",
                                 {"year": "2021", "odometer": "lots"})
    assert response.status_code == 400 and set(response.json()) == {"year", "odometer"}


async def test_non_json_body_is_415(alice):
    form = {**alice.headers, "Content-Type": "application/x-www-form-urlencoded"}
    response = await alice.client.post("/api/vehicles/", content=b"vin=1", headers=form)
    assert response.status_code == 415 and "error" in response.json()
