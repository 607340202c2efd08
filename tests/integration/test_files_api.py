"""The file API beside Enterprise Sync (issue 14): the requests ATAK, iTAK and CloudTAK send, on a
real server over mutual TLS, and what another group, a non-submitter and a bad value get."""

import time
from pathlib import Path

import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer
from tests.integration.test_marti_api import https
from tests.settings import listening

BODY = b"water point at the old mill\n"


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, api_tls_port=0)


async def test_keywords_creator_and_expiration_as_tak_clients_send_them(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    alice, bob = pki.add_user("alice", "ops"), pki.add_user("bob", "ops")
    mallory = pki.add_user("mallory", "outsiders")
    async with https(tls_server, pki, alice) as client:
        stored = await client.post(
            "/Marti/sync/upload",
            params={"name": "mill.txt", "keywords": "water,mill", "CreatorUid": "IOS-ALICE"},
            content=BODY,
            headers={"content-type": "text/plain"},
        )
        sha = stored.json()["Hash"]
        metadata = (await client.get(f"/Marti/sync/{sha}/metadata")).json()
        by_keyword = (await client.get("/Marti/sync/search", params={"keywords": "mill"})).json()
        future = int(time.time()) + 3600
        set_later = await client.put(
            f"/Marti/api/sync/metadata/{sha}/expiration", params={"expiration": future}
        )
        later = (await client.get(f"/Marti/sync/{sha}/metadata")).json()
        bad = await client.put(f"/Marti/api/sync/metadata/{sha}/expiration", params={"expiration": "soon"})
        listed = (await client.get("/Marti/api/files/metadata")).json()["data"]
    assert (metadata["Keywords"], metadata["CreatorUid"]) == (["water", "mill"], "IOS-ALICE")
    assert by_keyword["resultCount"] == 1
    assert (set_later.status_code, later["EXPIRATION"], bad.status_code) == (200, str(future), 400)
    assert [(row["Name"], row["Keywords"], row["Groups"]) for row in listed] == [
        ("mill.txt", "water,mill", "ops")
    ]

    async with https(tls_server, pki, bob) as client:
        not_his = await client.put(f"/Marti/api/sync/metadata/{sha}/expiration", params={"expiration": "-1"})
        delete = await client.delete(f"/Marti/api/files/{sha}")
        readable = await client.get(f"/Marti/api/files/{sha}")
    assert (not_his.status_code, delete.status_code) == (403, 403), "only the submitter changes its life"
    assert (readable.status_code, readable.content) == (200, BODY), "the group still reads it"
    assert readable.headers["content-disposition"].startswith("attachment")

    async with https(tls_server, pki, mallory) as client:
        hidden = [
            (await client.get(path)).status_code
            for path in (f"/Marti/sync/{sha}/metadata", f"/Marti/api/files/{sha}")
        ]
        expire = await client.put(f"/Marti/api/sync/metadata/{sha}/expiration", params={"expiration": "1"})
        count = (await client.get("/Marti/api/files/metadata/count")).json()["data"]
        resources = (await client.get("/Marti/api/sync/search")).json()["data"]
    assert hidden == [404, 404]
    assert (expire.status_code, count, resources) == (404, 0, [])

    async with https(tls_server, pki, alice) as client:
        await client.put(f"/Marti/api/sync/metadata/{sha}/expiration", params={"expiration": "1"})
        expired = [
            (await client.get(path)).status_code
            for path in (f"/Marti/sync/{sha}/metadata", f"/Marti/sync/content?hash={sha}")
        ]
        search = (await client.get("/Marti/sync/search")).json()
    assert expired == [404, 404], "an expired file is no longer offered"
    assert search["resultCount"] == 0


async def test_bad_hashes_and_huge_expirations_are_refused(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    alice = pki.add_user("alice", "ops")
    async with https(tls_server, pki, alice) as client:
        answers = [
            (await client.get("/Marti/api/files/..%2F..%2Fidentity.sqlite3")).status_code,
            (await client.get(f"/Marti/sync/{'z' * 64}/metadata")).status_code,
            (
                await client.put(
                    f"/Marti/api/sync/metadata/{'a' * 64}/expiration", params={"expiration": "9" * 30}
                )
            ).status_code,
            (await client.get("/Marti/api/version")).status_code,
        ]
    assert answers == [404, 404, 400, 200], "refused, and the server goes on serving"
