"""Data-package endpoints (issue 4 items 2 and 3, reference §4.4) driven over HTTP.

The routes run in a small Starlette app of the test's own, with an in-memory store and a
caller taken from test headers through the API's real caller binding (``with_caller``).
Most tests speak through httpx's ASGI transport; one round trip goes over a real socket to
uvicorn on 127.0.0.1 port 0 with a multi-megabyte package, so the body arrives in many chunks.
Every hostile upload also checks that nothing was written.
"""

import asyncio
import contextlib
import hashlib
import io
import socket
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.types import Scope

from rallypoint.config import Settings
from rallypoint.cot.event import Event
from rallypoint.cot.xml import parse_event, serialize_event
from rallypoint.http.common.deps import Caller, with_caller
from rallypoint.http.common.uploads import INCOMING_DIR, PACKAGES_DIR, sanitize_name
from rallypoint.http.common.zipcheck import MANIFEST_ENTRY
from rallypoint.http.marti.packages import PackageDeps, package_routes
from rallypoint.router.registry import ANONYMOUS_GROUP
from rallypoint.store.base import Store
from tests.memory_store import MemoryStore
from tests.unit.test_zipcheck import PKG_UID, build_zip, data_package, manifest
from tests.waiting import EVENT_TIMEOUT_S, eventually

BASE = "https://localhost:8443"
NOW_MS = 1_700_000_000_000
USER_HEADER = "x-test-user"
GROUPS_HEADER = "x-test-groups"
CREATOR = "ANDROID-0123456789abcdef"


@dataclass
class Harness:
    """The app under test, what it announced, and where it keeps files."""

    data_dir: Path
    store: MemoryStore
    app: Any
    announced: list[tuple[Event, frozenset[str], str | None]] = field(default_factory=list)
    store_open: bool = True

    def client(self, user: str | None = None, groups: str = ANONYMOUS_GROUP) -> httpx.AsyncClient:
        headers = {GROUPS_HEADER: groups, **({USER_HEADER: user} if user else {})}
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=BASE, headers=headers)

    def written(self) -> list[Path]:
        """Every file under packages/ and incoming/ (a refused upload must leave none)."""
        return sorted(
            p for d in (PACKAGES_DIR, INCOMING_DIR) for p in (self.data_dir / d).rglob("*") if p.is_file()
        )


def caller_from_headers(scope: Scope) -> Caller:
    headers = dict(scope["headers"])
    user = headers.get(USER_HEADER.encode())
    groups = headers.get(GROUPS_HEADER.encode(), ANONYMOUS_GROUP.encode()).decode().split(",")
    return Caller(user.decode() if user else None, frozenset(groups), "https", "127.0.0.1:1")


def make_harness(tmp_path: Path, **overrides: Any) -> Harness:
    settings = Settings(data_dir=tmp_path, **overrides)
    store = MemoryStore()
    harness = Harness(tmp_path, store, None)
    deps = PackageDeps(
        data_dir=tmp_path,
        settings=settings,
        store=lambda: cast(Store, store) if harness.store_open else None,
        announce=lambda event, groups, identity: harness.announced.append((event, groups, identity)),
        now_ms=lambda: NOW_MS,
    )
    harness.app = with_caller(Starlette(routes=package_routes(deps)), caller_from_headers)
    return harness


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return make_harness(tmp_path)


def package_bytes() -> bytes:
    return build_zip(data_package())


async def upload(
    client: httpx.AsyncClient,
    data: bytes,
    *,
    filename: str = "CoT Types.zip",
    part: str = "assetfile",
    content_type: str = "application/x-zip-compressed",
    **params: str,
) -> httpx.Response:
    query = {"filename": filename, "creatorUid": CREATOR, **params}
    files = {part: (filename, data, content_type)}
    return await client.post("/Marti/sync/missionupload", params=query, files=files)


async def test_upload_search_download_round_trip(harness: Harness) -> None:
    data = package_bytes()
    sha = hashlib.sha256(data).hexdigest()
    link = f"{BASE}/Marti/sync/content?hash={sha}"
    async with harness.client("alice", "red") as client:
        before = await client.get("/Marti/sync/missionquery", params={"hash": sha})
        assert before.status_code == 404
        response = await upload(client, data, hash="00" * 32)  # a wrong client hash is ignored
        assert (response.status_code, response.text) == (200, link)
        assert response.headers["content-type"].startswith("text/plain")
        after = await client.get("/Marti/sync/missionquery", params={"hash": sha})
        assert (after.status_code, after.text) == (200, link)

        found = await client.get(
            "/Marti/sync/search", params={"keywords": "missionpackage", "tool": "public"}
        )
        assert found.headers["content-type"].startswith("text/json")
        assert found.json() == {
            "resultCount": 1,
            "results": [
                {
                    "UID": PKG_UID,
                    "Hash": sha,
                    "Name": "CoT Types",
                    "Keywords": ["missionpackage"],
                    "MIMEType": "application/x-zip-compressed",
                    "SubmissionDateTime": "2023-11-14T22:13:20.000Z",
                    "SubmissionUser": "alice",
                    "CreatorUid": CREATOR,
                    "Size": str(len(data)),
                    "PrimaryKey": found.json()["results"][0]["PrimaryKey"],
                    "EXPIRATION": "-1",
                    "Tool": "public",
                    "Groups": ["red"],
                    "DownloadPath": "CoT Types.zip",
                }
            ],
        }

        download = await client.get(link)
        assert download.status_code == 200
        assert download.content == data
        assert download.headers["content-disposition"] == (
            "attachment; filename=\"CoT Types.zip\"; filename*=UTF-8''CoT%20Types.zip"
        )
        head = await client.head(link)
        assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", str(len(data)))
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert archive.read(MANIFEST_ENTRY) == data_package()[MANIFEST_ENTRY]
    assert harness.written() == [harness.data_dir / PACKAGES_DIR / sha]
    assert harness.announced == []  # no explicit tool=public: maybe meant for contacts only


async def test_browser_part_name_and_same_bytes_twice(harness: Harness) -> None:
    data = package_bytes()
    async with harness.client("alice", "red") as alice, harness.client("bob", "blue") as bob:
        assert (await upload(alice, data, part="resource")).status_code == 200
        assert (await upload(bob, data, filename="copy.zip")).status_code == 200
        sha = hashlib.sha256(data).hexdigest()
        # one record per submitter: alice's is untouched, bob's is his own
        assert harness.store.by_key[(sha, "alice")].groups == {"red"}
        assert harness.store.by_key[(sha, "bob")].groups == {"blue"}
        assert (await alice.get("/Marti/sync/content", params={"hash": sha})).content == data
    assert len(harness.written()) == 1


async def test_public_upload_announces_fileshare_to_uploader_groups(harness: Harness) -> None:
    data = package_bytes()
    sha = hashlib.sha256(data).hexdigest()
    async with harness.client("alice", "red,green") as client:
        assert (await upload(client, data, tool="public")).status_code == 200
    [(event, groups, identity)] = harness.announced
    assert (groups, identity) == ({"red", "green"}, "alice")
    parsed = parse_event(serialize_event(event))  # what a stream client would read
    assert (parsed.type, parsed.time, parsed.stale) == ("b-f-t-r", NOW_MS, NOW_MS + 60_000)
    assert parsed.detail is not None
    assert parsed.detail.xml == (
        '<fileshare filename="CoT Types.zip" name="CoT Types" senderCallsign="alice"'
        f' senderUid="{CREATOR}" senderUrl="{BASE}/Marti/sync/content?hash={sha}"'
        f' sha256="{sha}" sizeInBytes="{len(data)}"/>'
    )


async def test_metadata_tool_change(harness: Harness) -> None:
    data = package_bytes()
    sha = hashlib.sha256(data).hexdigest()
    tool_path = f"/Marti/api/sync/metadata/{sha}/tool"
    async with harness.client("alice", "red") as client:
        await upload(client, data)
        private = await client.put(tool_path, content=b"private", headers={"content-type": "text/plain"})
        assert (private.status_code, private.text) == (200, "private")
        public_list = await client.get("/Marti/sync/search", params={"tool": "public"})
        assert public_list.json() == {"resultCount": 0, "results": []}
        private_list = await client.get("/Marti/sync/search", params={"tool": "private"})
        assert private_list.json()["resultCount"] == 1
        assert harness.announced == []
        assert (await client.put(tool_path, content=b"public")).status_code == 200
        assert harness.store.records[sha].tool == "public"
        assert [event.type for event, _, _ in harness.announced] == ["b-f-t-r"]
        for bad in (b"secret", b"", b"public" * 20):
            assert (await client.put(tool_path, content=bad)).status_code == 400
        unknown = await client.put(f"/Marti/api/sync/metadata/{'ab' * 32}/tool", content=b"public")
        assert unknown.status_code == 404
        assert (
            await client.put("/Marti/api/sync/metadata/nothex/tool", content=b"public")
        ).status_code == 404
    assert harness.store.records[sha].tool == "public"


async def test_generic_upload_returns_metadata(harness: Harness) -> None:
    body = b"%PDF-1.4 plan of the day"
    async with harness.client("alice", "red") as client:
        response = await client.post(
            "/Marti/sync/upload",
            params={"name": "../plan.pdf", "keywords": "orders"},
            content=body,
            headers={"content-type": "application/pdf"},
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/json")
        metadata = response.json()
        sha = hashlib.sha256(body).hexdigest()
        assert (metadata["Hash"], metadata["Name"], metadata["Size"]) == (sha, "plan.pdf", str(len(body)))
        assert (metadata["MIMEType"], metadata["Keywords"]) == ("application/pdf", ["orders"])
        download = await client.get("/Marti/sync/content", params={"hash": sha})
        assert (download.content, download.headers["content-type"]) == (body, "application/pdf")
        multipart = await client.post(
            "/Marti/sync/upload",
            params={"name": "photo"},
            files={"assetfile": ("p.jpg", b"\xff\xd8jpeg", "image/jpeg")},
        )
        assert (multipart.json()["MIMEType"], multipart.json()["DownloadPath"]) == ("image/jpeg", "p.jpg")
        assert (await client.post("/Marti/sync/upload", content=body)).status_code == 400  # no name


async def test_group_isolation(harness: Harness) -> None:
    data = package_bytes()
    sha = hashlib.sha256(data).hexdigest()
    async with (
        harness.client("alice", "red") as alice,
        harness.client("eve", "blue") as eve,
        harness.client(None) as anonymous,
        harness.client("carol", "blue,red") as carol,
    ):
        await upload(alice, data)
        for outsider in (eve, anonymous):
            assert (await outsider.get("/Marti/sync/search")).json() == {"resultCount": 0, "results": []}
            query = await outsider.get("/Marti/sync/missionquery", params={"hash": sha})
            content = await outsider.get("/Marti/sync/content", params={"hash": sha})
            missing = await outsider.get("/Marti/sync/content", params={"hash": "ab" * 32})
            assert (query.status_code, content.status_code) == (404, 404)
            assert (content.text, content.headers.get("content-length")) == (
                missing.text,
                missing.headers.get("content-length"),
            )
            tool = await outsider.put(f"/Marti/api/sync/metadata/{sha}/tool", content=b"private")
            assert tool.status_code == 404
        assert harness.store.records[sha].tool == "public"
        assert (await carol.get("/Marti/sync/content", params={"hash": sha})).content == data
        assert (await carol.get("/Marti/sync/search")).json()["resultCount"] == 1


def hostile_package(kind: str) -> bytes:
    package = data_package()
    if kind.startswith("name:"):
        return build_zip({**package, kind[5:]: b"payload"})
    if kind == "bomb":
        return build_zip({**package, "bomb.bin": bytes(32 * 1024 * 1024)})
    if kind == "many":
        return build_zip({**package, **{f"f{n}.cot": b"x" for n in range(1100)}})
    if kind == "no-manifest":
        del package[MANIFEST_ENTRY]
        return build_zip(package)
    assert kind == "doctype"
    doctype = b'<!DOCTYPE m [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    return build_zip({**package, MANIFEST_ENTRY: doctype + manifest(["a/a.cot"])})


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("name:../x", "unsafe_name"),
        ("name:/etc/x", "unsafe_name"),
        ("name:C:\\x", "unsafe_name"),
        ("name:a/../../b", "unsafe_name"),
        ("bomb", "compression_ratio"),
        ("many", "too_many_entries"),
        ("no-manifest", "no_manifest"),
        ("doctype", "bad_manifest"),
    ],
)
async def test_hostile_package_is_refused_and_nothing_written(
    harness: Harness, kind: str, reason: str
) -> None:
    async with harness.client("mallory", "red") as client:
        response = await upload(client, hostile_package(kind), tool="public")
    assert response.status_code == 400
    assert response.text.startswith(f"{reason}: ")
    assert_nothing_kept(harness)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(256), "application/x-zip-compressed"),  # the header lies
        (b"<html>not a package</html>", "text/html"),
        (b"", "application/zip"),
    ],
)
async def test_not_a_zip_is_415(harness: Harness, data: bytes, content_type: str) -> None:
    async with harness.client("mallory", "red") as client:
        response = await upload(client, data, content_type=content_type)
    assert (response.status_code, response.text.split(":")[0]) == (415, "not_a_zip")
    assert_nothing_kept(harness)


async def test_oversize_upload_is_413(tmp_path: Path) -> None:
    harness = make_harness(tmp_path, upload_max_bytes=64 * 1024)
    async with harness.client("mallory", "red") as client:
        big = build_zip({**data_package(), "photo.jpg": bytes(range(256)) * 1024}, method=zipfile.ZIP_STORED)
        response = await upload(client, big)
        assert response.status_code == 413
        raw = await client.post("/Marti/sync/upload", params={"name": "x"}, content=bytes(128 * 1024))
        assert raw.status_code == 413
        streamed = await client.post("/Marti/sync/upload", params={"name": "x"}, content=_chunks(128 * 1024))
        assert streamed.status_code == 413  # no Content-Length: counted while streaming
        assert (await upload(client, package_bytes())).status_code == 200  # under the cap
    assert len(harness.written()) == 1


async def _chunks(total: int) -> AsyncIterator[bytes]:
    for _ in range(total // 4096):
        yield bytes(4096)


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"content": package_bytes(), "headers": {"content-type": "application/zip"}}, 400),  # not multipart
        ({"files": {"other": ("a.zip", package_bytes(), "application/zip")}}, 400),  # no assetfile part
        ({"content": b"--x\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=x"}}, 400),
    ],
)
async def test_malformed_upload_requests_are_400(
    harness: Harness, kwargs: dict[str, Any], status: int
) -> None:
    async with harness.client("mallory", "red") as client:
        response = await client.post("/Marti/sync/missionupload", params={"filename": "a.zip"}, **kwargs)
        assert response.status_code == status
        no_name = await client.post(
            "/Marti/sync/missionupload", files={"assetfile": ("a.zip", package_bytes())}
        )
        assert no_name.status_code == 400
    assert_nothing_kept(harness)


async def test_closed_store_is_503(harness: Harness) -> None:
    harness.store_open = False
    async with harness.client("alice", "red") as client:
        assert (await upload(client, package_bytes())).status_code == 503
        assert (await client.get("/Marti/sync/search")).status_code == 503
    assert harness.written() == []


def assert_nothing_kept(harness: Harness) -> None:
    assert harness.written() == []
    assert harness.store.records == {}
    assert harness.announced == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\pkg.zip", "pkg.zip"),
        ("..", "file"),
        (".hidden", "hidden"),
        ("a\x00b\r\n.zip", "ab.zip"),
        ('quote"semi;.zip', "quote_semi_.zip"),
        ("Ünïcode Plan (1).zip", "Ünïcode Plan (1).zip"),
        (None, "file"),
        ("x" * 300 + ".zip", "x" * 196 + ".zip"),
    ],
)
def test_sanitize_name(name: str | None, expected: str) -> None:
    assert sanitize_name(name) == expected


async def test_round_trip_over_real_http(harness: Harness) -> None:
    """A 3 MiB package through uvicorn on a real socket: the body arrives in many chunks."""
    photo = hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32)  # incompressible enough
    data = build_zip({**data_package(), "photos/p.jpg": photo}, method=zipfile.ZIP_STORED)
    sha = hashlib.sha256(data).hexdigest()
    async with serve(harness) as port:
        base = f"http://127.0.0.1:{port}"
        headers = {USER_HEADER: "alice", GROUPS_HEADER: "red"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
            response = await upload(client, data)
            assert (response.status_code, response.text) == (200, f"{base}/Marti/sync/content?hash={sha}")
            download = await client.get("/Marti/sync/content", params={"hash": sha})
    assert hashlib.sha256(download.content).hexdigest() == sha
    assert harness.written() == [harness.data_dir / PACKAGES_DIR / sha]


@contextlib.asynccontextmanager
async def serve(harness: Harness) -> AsyncIterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(harness.app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: server.started, what="uvicorn started")
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, EVENT_TIMEOUT_S)
        sock.close()


async def test_partial_download_with_offset_and_length(harness: Harness) -> None:
    data = package_bytes()
    sha = hashlib.sha256(data).hexdigest()
    async with harness.client("alice", "red") as client:
        assert (await upload(client, data)).status_code == 200
        part = await client.get("/Marti/sync/content", params={"hash": sha, "offset": "10", "length": "25"})
        rest = await client.get("/Marti/sync/content", params={"hash": sha, "offset": "100"})
        beyond = await client.get("/Marti/sync/content", params={"hash": sha, "offset": str(len(data) + 1)})
        bad = await client.get("/Marti/sync/content", params={"hash": sha, "offset": "-1"})
    assert (part.status_code, part.content) == (206, data[10:35])
    assert part.headers["content-range"] == f"bytes 10-34/{len(data)}"
    assert (rest.status_code, rest.content) == (206, data[100:])
    assert (beyond.status_code, bad.status_code) == (416, 400)


async def test_keywords_edit_and_delete_by_the_submitter_only(harness: Harness) -> None:
    data = package_bytes()
    sha = hashlib.sha256(data).hexdigest()
    path = f"/Marti/api/sync/metadata/{sha}/keywords"
    async with (
        harness.client("alice", "red") as alice,
        harness.client("bob", "red") as bob,
        harness.client("eve", "blue") as eve,
    ):
        assert (await upload(alice, data)).status_code == 200
        assert (await bob.put(path, json=["missionpackage", "flood"])).json() == ["missionpackage", "flood"]
        assert (await eve.put(path, json=["x"])).status_code == 404  # not in her groups: hidden
        assert (await bob.put(path, content=b'{"a": 1}')).status_code == 400
        assert (await bob.put(path, json=["x" * 500])).status_code == 400
        found = await bob.get("/Marti/sync/search", params={"keywords": "flood"})
        assert found.json()["resultCount"] == 1
        assert (await bob.delete("/Marti/sync/delete", params={"hash": sha})).status_code == 403
        assert (await eve.delete("/Marti/sync/delete", params={"hash": sha})).status_code == 404
        assert (await alice.delete("/Marti/sync/delete", params={"hash": sha})).status_code == 200
        assert (await alice.get("/Marti/sync/content", params={"hash": sha})).status_code == 404
    assert harness.written() == []


async def test_an_itak_upload_keeps_its_creator_and_splits_comma_joined_keywords(harness: Harness) -> None:
    """iTAK names the uploader ``CreatorUid`` (capital C); TAK tools join keywords with commas."""
    body = b"iTAK photo of the levee"
    async with harness.client("alice", "red") as client:
        response = await client.post(
            "/Marti/sync/upload",
            params={"name": "levee.jpg", "keywords": "levee,breach", "CreatorUid": "IOS-ALICE"},
            content=body,
            headers={"content-type": "image/jpeg"},
        )
        assert response.status_code == 200
        metadata = response.json()
        assert (metadata["CreatorUid"], metadata["Keywords"]) == ("IOS-ALICE", ["levee", "breach"])
        found = await client.get("/Marti/sync/search", params={"keywords": "breach"})
        assert [row["Hash"] for row in found.json()["results"]] == [hashlib.sha256(body).hexdigest()]
