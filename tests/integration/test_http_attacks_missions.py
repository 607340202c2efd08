"""Mission attacks of issue 15 over the Marti API: naming another identity's client uid
(item 5) and guessing a mission password (item 6), each while a bystander is served."""

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from rallypoint.config import Settings
from rallypoint.pki.paths import audit_path
from tests.conftest import PkiFixture, RunningServer
from tests.integration.test_http_attacks import BYSTANDER_ADDRESS, attack_settings, counter, https

PREFIX = "/Marti/api/missions"


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return attack_settings(tmp_path)


@pytest.fixture
async def alice(tls_server: RunningServer, pki: PkiFixture) -> AsyncIterator[httpx.AsyncClient]:
    """The creator of mission ``op`` (device ALICE-1, group ops), calling from 127.0.0.2."""
    async with https(tls_server, pki, pki.add_user("alice", "ops"), BYSTANDER_ADDRESS) as client:
        created = await client.put(f"{PREFIX}/op", params={"creatorUid": "ALICE-1", "group": "ops"})
        assert created.status_code == 201, created.text
        yield client


async def test_naming_the_creators_uid_gives_no_power(
    tls_server: RunningServer,
    pki: PkiFixture,
    alice: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with https(tls_server, pki, pki.add_user("mallory", "ops")) as mallory:
        renamed = await mallory.put(f"{PREFIX}/op/keywords", params={"creatorUid": "ALICE-1"}, json=["mine"])
        deleted = await mallory.delete(f"{PREFIX}/op", params={"creatorUid": "ALICE-1"})
        role = await mallory.put(
            f"{PREFIX}/op/role",
            params={"clientUid": "ALICE-1", "username": "mallory", "role": "MISSION_OWNER"},
        )
    own = await alice.put(f"{PREFIX}/op/keywords", params={"creatorUid": "ALICE-1"}, json=["alice"])
    mission = (await alice.get(f"{PREFIX}/op")).json()["data"][0]
    assert (renamed.status_code, deleted.status_code, role.status_code) == (403, 403, 403)
    assert "belongs to another identity" in renamed.json()["error"]
    assert "mallory named client uid ALICE-1, which belongs to another identity" in caplog.text
    assert counter(tls_server, "http_refused{port=api,reason=status_403}") == 3
    assert own.status_code == 200
    assert mission["keywords"] == ["alice"]


async def test_mission_password_guesses_are_throttled_and_audited(
    tls_server: RunningServer, pki: PkiFixture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    limit = tls_server.server.context.settings.mission_password_max_failures
    async with https(tls_server, pki, pki.add_user("alice", "ops"), BYSTANDER_ADDRESS) as alice:
        created = await alice.put(
            f"{PREFIX}/secret",
            params={"creatorUid": "ALICE-1", "group": "ops", "password": "s3cret-pw"},
        )
        assert created.status_code == 201, created.text
        async with https(tls_server, pki, pki.add_user("mallory", "ops")) as mallory:
            answers = [
                (
                    await mallory.put(
                        f"{PREFIX}/secret/subscription", params={"uid": "M-1", "password": f"guess-{n}"}
                    )
                ).status_code
                for n in range(limit + 3)
            ]
            throttled = await mallory.put(
                f"{PREFIX}/secret/subscription", params={"uid": "M-1", "password": "s3cret-pw"}
            )
        async with https(tls_server, pki, pki.add_user("bob", "ops"), BYSTANDER_ADDRESS) as bob:
            joined = await bob.put(
                f"{PREFIX}/secret/subscription", params={"uid": "B-1", "password": "s3cret-pw"}
            )
    assert answers == [403] * limit + [429] * 3
    assert throttled.status_code == 429  # even the right password: nothing is learnt while throttled
    assert int(throttled.headers["retry-after"]) >= 1
    assert joined.status_code == 201, joined.text
    assert counter(tls_server, "mission_password_failed") == limit
    throttles = sum(
        counter(tls_server, f"mission_password_throttled{{by={by}}}") for by in ("user", "address")
    )
    assert throttles == 4
    assert caplog.text.count("wrong password for mission 'secret' from mallory") == limit
    assert caplog.text.count("password guesses from mallory") == 1
    lines = audit_path(tls_server.server.settings.data_dir).read_text().splitlines()
    kinds = [json.loads(line)["kind"] for line in lines]
    assert kinds.count("mission_password_failed") == limit
    assert kinds.count("mission_password_throttled") == 1


async def test_password_guesses_in_json_bodies_are_throttled_too(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    limit = tls_server.server.context.settings.mission_password_max_failures
    async with https(tls_server, pki, pki.add_user("alice", "ops"), BYSTANDER_ADDRESS) as alice:
        created = await alice.put(
            f"{PREFIX}/secret", params={"creatorUid": "ALICE-1", "group": "ops", "password": "s3cret-pw"}
        )
        assert created.status_code == 201, created.text
        async with https(tls_server, pki, pki.add_user("mallory", "ops")) as mallory:
            answers = [
                (
                    await mallory.post(
                        "/api/missions/secret/subscribe", json={"uid": "M-1", "password": f"guess-{n}"}
                    )
                ).status_code
                for n in range(limit + 2)
            ]
        own = await alice.get("/api/missions/secret", params={"password": "s3cret-pw"})
    assert answers == [403] * limit + [429] * 2
    assert own.status_code == 200
    assert counter(tls_server, "mission_password_failed") == limit
