"""node-tak's password login (``APIAuthPassword`` → ``POST /oauth/token``, as CloudTAK logs in),
its token on the API (``APIAuthToken``), and ``Credentials.config`` (``/Marti/api/tls/config``)."""

from pathlib import Path

import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer
from tests.interop.node_tak import requires_node_tak, run_plan
from tests.settings import listening

pytestmark = requires_node_tak

GROUPS = {"name": "groups", "call": "Group.list"}


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, api_tls_port=0, api_plain_port=0)


async def test_password_login_and_bearer_token(
    tls_server: RunningServer, pki: PkiFixture, tmp_path: Path
) -> None:
    gateway = pki.add_user("cloudtak", "ops")
    pki.store.add_user("alice", "correct horse", ["ops", "medics"])
    login = {
        "api": f"https://127.0.0.1:{tls_server.ports.api_tls}",
        "auth": "password",
        "username": "alice",
        "password": "correct horse",
        "cert": str(gateway.certificate),
        "key": str(gateway.key),
        "ca": str(pki.ca_file),
        "calls": [{"name": "config", "call": "Credentials.config"}],
    }
    logged_in = await run_plan(login, tmp_path / "a")
    assert logged_in["claims"]["sub"] == "alice"
    assert logged_in["claims"]["exp"] > logged_in["claims"]["iat"]
    assert "<nameEntries>" in logged_in["calls"]["config"]["value"]

    plain = f"http://127.0.0.1:{tls_server.ports.api_plain}"
    with_token = await run_plan(
        {"api": plain, "auth": "token", "token": logged_in["token"], "calls": [GROUPS]}, tmp_path / "b"
    )
    assert {row["name"] for row in with_token["calls"]["groups"]["value"]["data"]} == {"ops", "medics"}

    forged = logged_in["token"][:-4] + ("AAAA" if not logged_in["token"].endswith("AAAA") else "BBBB")
    anonymous = await run_plan(
        {"api": plain, "auth": "token", "token": forged, "calls": [GROUPS]}, tmp_path / "c"
    )
    assert {row["name"] for row in anonymous["calls"]["groups"]["value"]["data"]} == {"__ANON__"}

    pki.store.set_disabled("alice", True)
    disabled = await run_plan(
        {"api": plain, "auth": "token", "token": logged_in["token"], "calls": [GROUPS]}, tmp_path / "d"
    )
    assert {row["name"] for row in disabled["calls"]["groups"]["value"]["data"]} == {"__ANON__"}


async def test_a_wrong_password_gets_no_token(
    tls_server: RunningServer, pki: PkiFixture, tmp_path: Path
) -> None:
    gateway = pki.add_user("cloudtak", "ops")
    pki.store.add_user("alice", "correct horse", ["ops"])
    plan = {
        "api": f"https://127.0.0.1:{tls_server.ports.api_tls}",
        "auth": "password",
        "username": "alice",
        "password": "wrong",
        "cert": str(gateway.certificate),
        "key": str(gateway.key),
        "ca": str(pki.ca_file),
        "calls": [],
    }
    refused = await run_plan({**plan, "expectFailure": True}, tmp_path / "a")
    assert "invalid_grant" in refused["error"]
    assert "token" not in refused
