"""Store-and-forward: directed messages for an offline client wait in its durable mailbox.

The team client leaves; the command post assigns it three objectives (REST) and sends it two
direct GeoChats (by callsign), interleaved; the server is killed with SIGKILL and restarted;
when the team client comes back and reports its position, it receives all five, in the order
sent, exactly once. Each step waits for what the server shows (``clientEndPoints``, the mail
table); "nothing more" is read up to a marker chat, which arrives after any kept mail.
"""

import re
import signal
import socket
import sqlite3
from pathlib import Path

import httpx

from tests.integration.test_restart import TIMEOUT_S, _free_port, _server, _stored_uids, _wait
from tests.interop.clients import chat_xml, pli_xml

TEAM_UID, TEAM_CALLSIGN = "ANDROID-team", "Rescue-3"
POST_UID, POST_CALLSIGN = "ANDROID-post", "Command"


def _undelivered(database: Path) -> int:
    if not database.exists():
        return 0
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM mail WHERE delivered IS NULL").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def _assign(api: httpx.Client, number: int) -> str:
    """Designate an objective assigned to the team; return the uid of its marker."""
    body = {
        "title": f"Objective {number}",
        "priority": "high",
        "geometry": {"type": "Point", "coordinates": [11.5 + number / 100, 48.1]},
        "assignee": TEAM_UID,
    }
    response = api.post("/api/missions/crossing/objectives", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _uids_in_order(received: bytes, wanted: list[str]) -> list[str]:
    found = re.findall(rb'<event [^>]*uid="([^"]+)"', received)
    return [uid.decode() for uid in found if uid.decode() in wanted]


def _connected(api: httpx.Client, uid: str) -> bool:
    """Whether a client with device uid ``uid`` is bound on the server (``clientEndPoints``);
    False while the API port is not listening yet (it starts after the streaming port)."""
    try:
        rows = api.get("/Marti/api/clientEndPoints").json()["data"]
    except httpx.TransportError:
        return False
    return any(row["uid"] == uid for row in rows)


def _api_up(api: httpx.Client) -> bool:
    try:
        return api.get("/Marti/api/clientEndPoints").status_code == 200
    except httpx.TransportError:
        return False


def _read_until(client: socket.socket, marker: bytes) -> bytes:
    """Everything ``client`` receives up to and including ``marker``."""
    client.settimeout(TIMEOUT_S)
    received = b""
    while marker not in received:
        chunk = client.recv(65536)
        assert chunk, "the server closed the connection"
        received += chunk
    return received


def _marker(post: socket.socket, text: str) -> bytes:
    """A direct chat to the team, sent now: it reaches the team after any mail kept for it
    (mail is read back before live messages for the same uid, in submission order)."""
    post.sendall(chat_xml(POST_UID, POST_CALLSIGN, text, to_callsign=TEAM_CALLSIGN))
    return text.encode()


def test_kept_messages_survive_sigkill_and_arrive_in_order_once(tmp_path: Path) -> None:
    port, api_port = _free_port(), _free_port()
    api_on = {"RALLYPOINT_API_PLAIN_PORT": str(api_port)}
    database = tmp_path / "rallypoint-data" / "rallypoint.sqlite3"
    chats = [chat_xml(POST_UID, POST_CALLSIGN, f"chat {n}", to_callsign=TEAM_CALLSIGN) for n in (1, 2)]
    chat_uids = [re.search(rb'uid="([^"]+)"', chat).group(1).decode() for chat in chats]  # type: ignore[union-attr]

    with _server(tmp_path, port, api_on) as first:
        order: list[str] = []
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=TIMEOUT_S) as api:
            with socket.create_connection(("127.0.0.1", port)) as team:
                team.sendall(pli_xml(TEAM_UID, TEAM_CALLSIGN))
                _wait(lambda: _connected(api, TEAM_UID), "the team to be bound", first)
            _wait(lambda: not _connected(api, TEAM_UID), "the team's departure", first)
            with socket.create_connection(("127.0.0.1", port)) as post:
                assert api.post("/api/missions", json={"name": "crossing"}).status_code == 201
                post.sendall(pli_xml(POST_UID, POST_CALLSIGN))
                _wait(lambda: _connected(api, POST_UID), "the post to be bound", first)
                for number in (1, 2, 3):
                    order.append(_assign(api, number))
                    _wait(lambda: _undelivered(database) == len(order), "the assignment to be kept", first)
                    if number < 3:
                        post.sendall(chats[number - 1])
                        order.append(chat_uids[number - 1])
                        _wait(lambda: _undelivered(database) == len(order), "the chat to be kept", first)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=TIMEOUT_S)

    with (
        _server(tmp_path, port, api_on) as second,
        httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=TIMEOUT_S) as api,
        socket.create_connection(("127.0.0.1", port)) as post,
    ):
        post.sendall(pli_xml(POST_UID, POST_CALLSIGN))
        with socket.create_connection(("127.0.0.1", port)) as team:
            team.sendall(pli_xml(TEAM_UID, TEAM_CALLSIGN))
            received = _read_until(team, f'uid="{order[0]}"'.encode())  # bound: its mail is coming
            received += _read_until(team, _marker(post, "after the mail"))
        assert _uids_in_order(received, order) == order
        _wait(lambda: _undelivered(database) == 0, "the mail to be marked delivered", second)
        _wait(lambda: not _connected(api, TEAM_UID), "the team's departure", second)
        with socket.create_connection(("127.0.0.1", port)) as team_again:
            team_again.sendall(pli_xml(TEAM_UID, TEAM_CALLSIGN))
            _wait(lambda: _connected(api, TEAM_UID), "the team to be bound again", second)
            again = _read_until(team_again, _marker(post, "nothing kept now"))
            assert _uids_in_order(again, order) == []


def _kept_for(database: Path) -> list[str]:
    """Recipients of the undelivered mail, oldest first."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT recipient FROM mail WHERE delivered IS NULL ORDER BY id").fetchall()
    return [str(row[0]) for row in rows]


def test_objective_assigned_by_callsign_after_a_restart_reaches_the_departed_device(tmp_path: Path) -> None:
    """The device left before the restart; its callsign resolves to its uid from the stored picture."""
    port, api_port = _free_port(), _free_port()
    api_on = {"RALLYPOINT_API_PLAIN_PORT": str(api_port)}
    database = tmp_path / "rallypoint-data" / "rallypoint.sqlite3"

    with _server(tmp_path, port, api_on) as first:
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=TIMEOUT_S) as api:
            with socket.create_connection(("127.0.0.1", port)) as team:
                team.sendall(pli_xml(TEAM_UID, TEAM_CALLSIGN))
                _wait(lambda: _connected(api, TEAM_UID), "the team to be bound", first)
            _wait(lambda: not _connected(api, TEAM_UID), "the team's departure", first)
            _wait(lambda: TEAM_UID in _stored_uids(database), "the team's report to be stored", first)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=TIMEOUT_S)

    with (
        _server(tmp_path, port, api_on) as second,
        httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=TIMEOUT_S) as api,
    ):
        _wait(lambda: _api_up(api), "the API port", second)
        assert api.post("/api/missions", json={"name": "crossing"}).status_code == 201
        body = {
            "title": "Bridge",
            "priority": "high",
            "geometry": {"type": "Point", "coordinates": [11.5, 48.1]},
            "assignee": TEAM_CALLSIGN,
        }
        response = api.post("/api/missions/crossing/objectives", json=body)
        assert response.status_code == 201, response.text
        marker = str(response.json()["id"])
        _wait(
            lambda: _kept_for(database) == [TEAM_UID], "the assignment to be kept for the team's uid", second
        )
        with (
            socket.create_connection(("127.0.0.1", port)) as post,
            socket.create_connection(("127.0.0.1", port)) as team,
        ):
            post.sendall(pli_xml(POST_UID, POST_CALLSIGN))
            team.sendall(pli_xml(TEAM_UID, TEAM_CALLSIGN))
            received = _read_until(team, f'uid="{marker}"'.encode())
            received += _read_until(team, _marker(post, "after the mail"))
        assert _uids_in_order(received, [marker]) == [marker]
        _wait(lambda: _undelivered(database) == 0, "the mail to be marked delivered", second)
