"""The merged OpenAPI document and the offline Swagger UI."""

from __future__ import annotations

from typing import Any

from gateway.openapi import merge_documents
from gateway.tests.conftest import StandIn


def _doc(path: str, schema_name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": "x", "version": "1"},
            "paths": {path: {"get": {"responses": {"200": {"content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{schema_name}"}}}}}}}},
            "components": {"schemas": {schema_name: schema}}}


async def test_schema_merges_paths_and_components_of_services_that_are_up(
        gateway_client: Any) -> None:
    auth, vehicles = StandIn("auth"), StandIn("vehicles")
    auth.openapi = _doc("/api/auth/me/", "User", {"type": "object"})
    vehicles.openapi = _doc("/api/vehicles/", "Vehicle", {"type": "object"})
    async with gateway_client({"auth": auth, "vehicles": vehicles}) as client:
        response = await client.get("/api/schema/")
        again = await client.get("/api/schema")
    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "Membership Auto API"
    assert set(document["paths"]) == {"/api/auth/me/", "/api/vehicles/"}
    assert {"User", "Vehicle"} <= set(document["components"]["schemas"])
    assert again.json() == document


def test_conflicting_component_names_are_kept_apart() -> None:
    merged = merge_documents({
        "auth": _doc("/api/auth/me/", "Error", {"type": "object", "title": "A"}),
        "vehicles": _doc("/api/vehicles/", "Error", {"type": "string", "title": "B"}),
    })
    schemas = merged["components"]["schemas"]
    assert schemas["Error"]["title"] == "A"
    assert schemas["VehiclesError"]["title"] == "B"
    ref = merged["paths"]["/api/vehicles/"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/VehiclesError"


async def test_schema_skips_services_that_are_down(gateway_client: Any) -> None:
    async with gateway_client() as client:
        response = await client.get("/api/schema/")
    assert response.status_code == 200
    assert response.json()["paths"] == {}


async def test_docs_page_references_local_assets(gateway_client: Any) -> None:
    async with gateway_client() as client:
        page = await client.get("/api/docs/")
        script = await client.get("/api/docs/swagger-ui-bundle.js")
        css = await client.get("/api/docs/swagger-ui.css")
        missing = await client.get("/api/docs/../../etc/passwd")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/api/docs/swagger-ui-bundle.js" in page.text
    assert "/api/schema/" in page.text
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert len(script.content) > 100_000
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert missing.status_code == 404
