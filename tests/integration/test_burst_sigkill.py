"""2 000 direct chats to an offline device, SIGKILL right after their answers, restart: none lost.

The row of the delivery issue that failed worst: "2 000 direct chats to an offline device,
kill -9 about 1 s after the burst: 3/2 000 delivered, most of the lost ones already bounced to
the sender as handled". Here the post sends the whole burst by ``marti/dest`` uid in one go,
reads the server's answers until every chat has one (``b-t-f-p``: kept and durable;
``b-t-f-s``: refused), and the server is killed with SIGKILL the moment the last answer is
read. After the restart the device returns: every chat answered pending arrives exactly once,
in the order sent, before a live chat sent after its return, and no chat answered as failed
arrives at all.
"""

import re
import signal
import socket
from pathlib import Path

import httpx

from tests.integration.test_restart import TIMEOUT_S, _free_port, _server, _wait
from tests.integration.test_store_forward import (
    POST_CALLSIGN,
    POST_UID,
    TEAM_CALLSIGN,
    TEAM_UID,
    _connected,
    _read_until,
)
from tests.interop.clients import chat_xml, pli_xml

BURST = 2000

_EVENT_HEAD = re.compile(rb"<event [^>]*>")
_UID = re.compile(rb'\buid="([^"]+)"')
_TYPE = re.compile(rb'\btype="([^"]+)"')


def _heads(received: bytes) -> list[tuple[str, str]]:
    """(uid, type) of every event in ``received``, in order."""
    found = []
    for head in _EVENT_HEAD.findall(received):
        uid, kind = _UID.search(head), _TYPE.search(head)
        assert uid is not None
        assert kind is not None
        found.append((uid.group(1).decode(), kind.group(1).decode()))
    return found


def _answers(post: socket.socket, chats: set[str]) -> dict[str, str]:
    """Read the post's socket until every chat in ``chats`` has its answer; uid -> answer type."""
    post.settimeout(TIMEOUT_S)
    received = b""
    answers: dict[str, str] = {}
    while len(answers) < len(chats):
        chunk = post.recv(1 << 20)
        assert chunk, "the server closed the post's connection"
        received += chunk
        answers = {
            uid: kind for uid, kind in _heads(received) if uid in chats and kind in ("b-t-f-p", "b-t-f-s")
        }
    return answers


def test_every_chat_answered_pending_before_a_sigkill_arrives_once_in_order(tmp_path: Path) -> None:
    port, api_port = _free_port(), _free_port()
    api_on = {"RALLYPOINT_API_PLAIN_PORT": str(api_port)}
    dest = f'<dest uid="{TEAM_UID}"/>'
    chats = [
        chat_xml(POST_UID, POST_CALLSIGN, f"burst {n}", to_uid=TEAM_UID, marti=dest) for n in range(BURST)
    ]
    sent = [_heads(chat)[0][0] for chat in chats]
    assert len(set(sent)) == BURST

    with _server(tmp_path, port, api_on) as first:
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=TIMEOUT_S) as api:
            with socket.create_connection(("127.0.0.1", port)) as team:
                team.sendall(pli_xml(TEAM_UID, TEAM_CALLSIGN))
                _wait(lambda: _connected(api, TEAM_UID), "the team to be bound", first)
            _wait(lambda: not _connected(api, TEAM_UID), "the team's departure", first)
            with socket.create_connection(("127.0.0.1", port)) as post:
                post.sendall(pli_xml(POST_UID, POST_CALLSIGN))
                _wait(lambda: _connected(api, POST_UID), "the post to be bound", first)
                post.sendall(b"".join(chats))
                answers = _answers(post, set(sent))
                first.send_signal(signal.SIGKILL)  # at once: the answers are all the server promised
        first.wait(timeout=TIMEOUT_S)

    pending = [uid for uid in sent if answers[uid] == "b-t-f-p"]
    failed = {uid for uid in sent if answers[uid] == "b-t-f-s"}
    assert len(pending) == BURST, f"{len(failed)} chats refused under the default limits"
    with (
        _server(tmp_path, port, api_on) as second,
        httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=TIMEOUT_S) as api,
        socket.create_connection(("127.0.0.1", port)) as post,
        socket.create_connection(("127.0.0.1", port)) as team,
    ):
        post.sendall(pli_xml(POST_UID, POST_CALLSIGN))
        _wait(lambda: _connected(api, POST_UID), "the post to be bound again", second)
        team.sendall(pli_xml(TEAM_UID, TEAM_CALLSIGN))
        _wait(lambda: _connected(api, TEAM_UID), "the team to be back", second)
        post.sendall(chat_xml(POST_UID, POST_CALLSIGN, "after the mail", to_uid=TEAM_UID, marti=dest))
        received = _read_until(team, b"after the mail")

    burst = [uid for uid, kind in _heads(received) if kind == "b-t-f" and uid in answers]
    assert burst == pending  # every kept chat, once, in the order sent
    assert failed.isdisjoint(burst)
    assert _heads(received)[-1][1] == "b-t-f"  # the live chat came last, behind the mail
