"""``POST /oauth/token`` refusals and what a bearer token can and cannot do (issue 14)."""

from pathlib import Path

import httpx
import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer
from tests.integration.test_marti_api import https, plain
from tests.settings import listening


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, api_tls_port=0, api_plain_port=0, enrollment_max_failures=3)


def groups_of(response: httpx.Response) -> set[str]:
    return {row["name"] for row in response.json()["data"]}


async def test_tokens_are_issued_on_https_only_and_throttled(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    gateway = pki.add_user("gateway", "ops")
    pki.store.add_user("alice", "correct horse", ["ops"])
    login = {"grant_type": "password", "username": "alice", "password": "correct horse"}
    async with plain(tls_server) as client:
        over_http = await client.post("/oauth/token", params=login)
    async with https(tls_server, pki, gateway) as client:
        form = await client.post("/oauth/token", data=login)
        other_grant = await client.post("/oauth/token", params={**login, "grant_type": "client_credentials"})
        wrong = [
            (await client.post("/oauth/token", params={**login, "password": f"guess-{n}"})).status_code
            for n in range(4)
        ]
        throttled_right = await client.post("/oauth/token", params=login)
    assert over_http.status_code == 403, "a password never travels over the plain port"
    assert form.status_code == 200
    assert form.json()["token_type"] == "bearer"
    assert form.headers["cache-control"] == "no-store"
    assert other_grant.status_code == 400
    assert wrong == [401, 401, 401, 429]
    assert throttled_right.status_code == 429, "while throttled, even the right password is not checked"

    token = form.json()["access_token"]
    async with plain(tls_server) as client:
        as_alice = await client.get("/Marti/api/groups/all", headers={"authorization": f"Bearer {token}"})
        garbage = await client.get("/Marti/api/groups/all", headers={"authorization": "Bearer " + "x" * 9000})
        bystander = await client.get("/Marti/api/version")
    assert groups_of(as_alice) == {"ops"}
    assert groups_of(garbage) == {"__ANON__"}
    assert bystander.status_code == 200
    assert oct((pki.data_dir / "oauth-signing.key").stat().st_mode & 0o777) == "0o600"
