"""The signing key: generated once and kept, or configured from the environment."""

import jwt

from auth.app import create_app
from auth.keys import generate_private_pem
from shared.testing import serve_in_process
from shared.tokens import DEFAULT_AUDIENCE, DEFAULT_ISSUER


async def kid_of(api) -> tuple[str, str]:
    """Register a user; the kid of its access token, and the token."""
    token = (await api.register())["accessToken"]
    return jwt.get_unverified_header(token)["kid"], token


async def test_a_generated_key_survives_a_restart(database_url, auth_settings_factory,
                                                  api_factory):
    settings = auth_settings_factory(database_url)
    async with serve_in_process(create_app(settings)) as client:
        first_kid, token = await kid_of(api_factory(client))
    async with serve_in_process(create_app(settings)) as client:
        second_kid, _ = await kid_of(api_factory(client))
        me = await client.get("/api/auth/me/", headers={"Authorization": f"Bearer {token}"})
    assert first_kid == second_kid
    assert me.status_code == 200


async def test_a_configured_key_signs_with_its_key_id(database_url, auth_settings_factory,
                                                     api_factory, tmp_path):
    pem = generate_private_pem()
    key_file = tmp_path / "signing.pem"
    key_file.write_text(pem)
    for source in ({"jwt_private_key": pem}, {"jwt_private_key_file": str(key_file)}):
        settings = auth_settings_factory(database_url, jwt_key_id="ops-key-1", **source)
        async with serve_in_process(create_app(settings)) as client:
            kid, token = await kid_of(api_factory(client))
            jwks = (await client.get("/api/auth/jwks/")).json()
        assert kid == "ops-key-1"
        public_key = jwt.PyJWK(jwks["keys"][0]).key
        claims = jwt.decode(token, public_key, algorithms=["RS256"],
                            audience=DEFAULT_AUDIENCE, issuer=DEFAULT_ISSUER)
        assert claims["typ"] == "access"
