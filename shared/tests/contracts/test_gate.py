"""The compatibility gate: today's contracts match the committed snapshots, and the
comparison tells a breaking change from an additive one."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, ClassVar

import pytest

from shared.contracts import EventContract
from shared.contracts.auth import UserRegisteredV1
from shared.contracts.snapshot import breaking_changes, current_events, current_openapi

CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "contracts"


@pytest.fixture(scope="module")
def openapi() -> dict[str, dict[str, Any]]:
    return current_openapi()


def events_with(contract: type[EventContract]) -> dict[str, Any]:
    """Today's event schemas with ``user.registered`` v1 replaced by ``contract``."""
    return {**current_events(), "user.registered v1": contract.model_json_schema(by_alias=True)}


def test_the_contracts_match_the_committed_snapshots(openapi: dict[str, Any]) -> None:
    assert breaking_changes(CONTRACTS_DIR, openapi=openapi) == []


def test_renaming_a_field_of_user_registered_fails_the_gate(openapi: dict[str, Any]) -> None:
    class Renamed(EventContract):
        TYPE: ClassVar[str] = "user.registered"
        user_id: str
        email_address: str  # was email
        name: str
        referral_code: str
        referred_by_code: str | None

    assert breaking_changes(CONTRACTS_DIR, events=events_with(Renamed), openapi=openapi) == [
        "event user.registered v1: field 'email' removed or renamed",
        "event user.registered v1: field 'emailAddress' is newly required"]


def test_adding_an_optional_field_passes(openapi: dict[str, Any]) -> None:
    class WithLocale(UserRegisteredV1):
        locale: str | None = None

    assert breaking_changes(CONTRACTS_DIR, events=events_with(WithLocale),
                            openapi=openapi) == []


def test_making_a_field_required_or_changing_its_type_fails(openapi: dict[str, Any]) -> None:
    class Stricter(EventContract):
        TYPE: ClassVar[str] = "user.registered"
        user_id: int  # was a string
        email: str
        name: str
        referral_code: str
        referred_by_code: str | None
        locale: str  # new and required

    assert breaking_changes(CONTRACTS_DIR, events=events_with(Stricter), openapi=openapi) == [
        "event user.registered v1: field 'userId' changed type string -> integer",
        "event user.registered v1: field 'locale' is newly required"]


def test_removing_a_route_or_a_status_fails_and_adding_one_passes(
        openapi: dict[str, Any]) -> None:
    changed = copy.deepcopy(openapi)
    paths = changed["vehicles"]["paths"]
    removed = sorted(paths)[0]
    del paths[removed]
    some_path, operations = sorted(changed["auth"]["paths"].items())[0]
    method = next(iter(operations))
    status = sorted(operations[method]["responses"])[0]
    del operations[method]["responses"][status]
    changed["files"]["paths"]["/api/files/new-route/"] = {"get": {"responses": {"200": {}}}}

    found = breaking_changes(CONTRACTS_DIR, openapi=changed)

    assert [line for line in found if "route removed" in line] == [
        f"vehicles {m.upper()} {removed}: route removed" for m in openapi["vehicles"]["paths"][
            removed]]
    assert f"auth {method.upper()} {some_path}: status {status} removed" in found
    assert not any("new-route" in line for line in found)
