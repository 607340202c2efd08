"""A stored web session is revived within its idle time and the identity store's verdict only."""

from pathlib import Path

from rallypoint.http.command_post.auth import Persistence, Session, SessionStore
from rallypoint.http.command_post.session_records import SessionRecords, token_hash

IDLE_S = 600.0


class Wall:
    """Wall-clock milliseconds that move only when told."""

    def __init__(self) -> None:
        self.ms = 1_700_000_000_000

    def __call__(self) -> int:
        return self.ms


def store(path: Path, wall: Wall, allowed: set[str]) -> SessionStore:
    persistence = Persistence(SessionRecords(path), wall, lambda session: session.user in allowed)
    return SessionStore(IDLE_S, clock=lambda: 0.0, persistence=persistence)


def test_revived_within_idle_time_with_the_same_csrf(tmp_path: Path) -> None:
    wall = Wall()
    first = store(tmp_path / "s.sqlite3", wall, {"alice"})
    session = first.create("alice", frozenset({"blue"}), certificate=7)
    wall.ms += round(IDLE_S * 1000) - 1
    revived = store(tmp_path / "s.sqlite3", wall, {"alice"}).get(session.id)
    assert isinstance(revived, Session)
    assert (revived.user, revived.groups, revived.csrf, revived.certificate) == (
        "alice",
        frozenset({"blue"}),
        session.csrf,
        7,
    )


def test_idle_or_disallowed_sessions_are_refused_and_forgotten(tmp_path: Path) -> None:
    wall = Wall()
    path = tmp_path / "s.sqlite3"
    first = store(path, wall, {"alice", "bob"})
    alice = first.create("alice", frozenset({"blue"}))
    bob = first.create("bob", frozenset({"blue"}))
    wall.ms += 1000
    second = store(path, wall, {"alice"})
    assert second.get(bob.id) is None  # disabled while the server was down
    wall.ms += round(IDLE_S * 1000)
    assert second.get(alice.id) is None  # idle too long
    assert len(SessionRecords(path)) == 0
    assert second.get(token_hash(alice.id)) is None


def test_sweep_keeps_only_the_most_recent_within_the_limit(tmp_path: Path) -> None:
    wall = Wall()
    path = tmp_path / "s.sqlite3"
    sessions = store(path, wall, {"alice"})
    sessions.max_sessions = 2
    made = []
    for _ in range(3):
        wall.ms += 1000
        made.append(sessions.create("alice", frozenset()))
    sessions.sweep_stored()
    records = SessionRecords(path)
    assert len(records) == 2
    assert records.load(token_hash(made[0].id)) is None
