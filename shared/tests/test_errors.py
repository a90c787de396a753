"""The contract's error bodies, whatever raised them."""

import httpx
import sqlalchemy.exc
from fastapi import FastAPI

from shared.errors import Conflict, FieldErrors, install_error_handlers, validation_fields
from shared.request_guard import RequestGuardMiddleware
from shared.schemas import CamelModel


class Vehicle(CamelModel):
    vin: str
    model_year: int


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestGuardMiddleware)

    @app.post("/vehicles/")
    async def create(body: Vehicle) -> Vehicle:
        return body

    @app.get("/conflict/")
    async def conflict() -> None:
        raise Conflict("VIN already registered")

    @app.get("/fields/")
    async def fields() -> None:
        raise FieldErrors({"samples.3.speed": "A valid number is required."})

    @app.get("/database-gone/")
    async def database_gone() -> None:
        raise sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionError("reset"))

    @app.get("/boom/")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    return app


async def call(method: str, path: str, **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path, **kwargs)  # type: ignore[arg-type]


async def test_missing_field_is_400_with_the_exact_message_and_camel_case_names():
    response = await call("POST", "/vehicles/", json={})
    assert response.status_code == 400
    assert response.json() == {"vin": ["This field is required."],
                               "modelYear": ["This field is required."]}


async def test_wrong_type_is_400_naming_the_field():
    response = await call("POST", "/vehicles/", json={"vin": "X", "modelYear": "soon"})
    assert response.status_code == 400
    assert list(response.json()) == ["modelYear"]


async def test_malformed_json_is_400_with_an_error_not_a_field_map():
    response = await call("POST", "/vehicles/", content=b"{nope",
                          headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()) == (400, {"error": "Malformed JSON body."})


async def test_not_json_is_415():
    response = await call("POST", "/vehicles/", content=b"vin=1",
                          headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert set(response.json()) == {"error"}


async def test_domain_errors_carry_their_status_and_message():
    response = await call("GET", "/conflict/")
    assert (response.status_code, response.json()) == (409, {"error": "VIN already registered"})
    fields = await call("GET", "/fields/")
    assert (fields.status_code, fields.json()) == (400, {"samples.3.speed": [
        "A valid number is required."]})


async def test_unknown_route_and_method_are_json():
    assert (await call("GET", "/nowhere/")).json() == {"error": "Not found"}
    wrong_method = await call("DELETE", "/vehicles/")
    assert (wrong_method.status_code, wrong_method.json()) == (405,
                                                               {"error": "Method not allowed"})


async def test_an_unexpected_error_is_500_json_without_internals():
    response = await call("GET", "/boom/")
    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error"}
    assert "secret" not in response.text


def test_nested_locations_become_dotted_paths():
    errors = [{"type": "float_parsing", "loc": ("body", "samples", 2, "speed"),
               "msg": "Input should be a valid number"}]
    assert validation_fields(errors) == {"samples.2.speed": ["Input should be a valid number"]}


async def test_a_lost_database_connection_is_503_json_with_retry_after():
    response = await call("GET", "/database-gone/")
    assert response.status_code == 503
    assert response.json() == {"error": "Service unavailable: database"}
    assert response.headers["retry-after"] == "1"
