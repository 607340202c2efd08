"""A full disk under a running server: it says so, refuses honestly, keeps serving, recovers.

The delivery issue's "faults visible" row, on a real file system: the data directory is a
small tmpfs of its own (root only; skipped elsewhere), filled with a filler file while the
server runs. A direct chat to a device that left cannot be kept, so its sender is told
``b-t-f-s`` (not ``b-t-f-p``); ``/health``'s faults name the reason and the lost events are
counted; a bystander keeps getting live traffic. When the filler goes, the next chat is kept
again, the faults clear, and the device, back, gets exactly the chats that were accepted.
"""

import asyncio
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from rallypoint.server.api_wiring import store_faults
from rallypoint.server.server import Server
from tests.faults.conftest import fault_settings
from tests.interop.clients import HOST, chat_xml, pli_xml
from tests.waiting import EVENT_TIMEOUT_S, eventually

DISK_BYTES = 8 * 1024 * 1024
"""Room for the store's schema and a few pages, small enough to fill in a moment."""

FILLER_CHUNK = 64 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of :data:`DISK_BYTES` mounted at ``tmp_path/disk``, unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small file system needs root and mount(8)")
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mountpoint)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def write_until_full(filler: BinaryIO, chunk: bytes) -> None:
    """Append ``chunk`` until the file system refuses it for want of space."""
    while True:
        try:
            filler.write(chunk)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            return


def fill(path: Path) -> None:
    """Write ``path`` until the file system has no byte left (big chunks, then the last bytes)."""
    with path.open("wb", buffering=0) as filler:
        write_until_full(filler, b"\0" * FILLER_CHUNK)
        write_until_full(filler, b"\0")


async def read_until(reader: asyncio.StreamReader, seen: bytearray, wanted: bytes, count: int = 1) -> None:
    async with asyncio.timeout(EVENT_TIMEOUT_S):
        while seen.count(wanted) < count:
            chunk = await reader.read(65536)
            assert chunk, "the server closed the connection"
            seen += chunk


async def test_a_full_disk_is_reported_refused_honestly_and_recovered_from(small_disk: Path) -> None:
    server = Server(fault_settings(small_disk, data_dir=small_disk / "data"))
    ports = await server.start()
    registry, counters = server.context.router.registry, server.context.counters
    try:
        _team_reader, team = await asyncio.open_connection(HOST, ports.tcp)
        team.write(pli_xml("TEAM", "Rescue-3"))
        await eventually(lambda: registry.by_uid("TEAM") is not None, what="team bound")
        team.close()
        await eventually(lambda: registry.by_uid("TEAM") is None, what="team gone")

        watch_reader, watch = await asyncio.open_connection(HOST, ports.tcp)
        watch.write(pli_xml("WATCH", "Bystander"))
        post_reader, post = await asyncio.open_connection(HOST, ports.tcp)
        post.write(pli_xml("POST", "Command"))
        watched = bytearray()
        await read_until(watch_reader, watched, b'uid="POST"')
        assert store_faults(server.context) == []

        fill(small_disk / "filler")
        answers = bytearray()
        post.write(chat_xml("POST", "Command", "while full", to_callsign="Rescue-3"))
        await read_until(post_reader, answers, b'type="b-t-f-s"')
        assert b'type="b-t-f-p"' not in answers
        assert counters.get("mail_write_errors") >= 1
        for moved in range(20):  # position reports the store cannot record
            post.write(pli_xml("POST", "Command", lat=1.5 + moved / 1000))
        await read_until(watch_reader, watched, b'uid="POST"', count=21)  # the bystander is served
        store = server.context.store
        assert store is not None
        await eventually(lambda: store.write_health()[0] > 0, what="lost events counted")
        reasons = store_faults(server.context)
        assert any(reason.startswith("mail not written") for reason in reasons), reasons
        assert any(reason.startswith("events not stored") for reason in reasons), reasons

        (small_disk / "filler").unlink()
        post.write(chat_xml("POST", "Command", "after space returned", to_callsign="Rescue-3"))
        await read_until(post_reader, answers, b'type="b-t-f-p"')
        post.write(pli_xml("POST", "Command", lat=1.6))
        await eventually(lambda: store_faults(server.context) == [], what="the faults to clear")

        back_reader, back = await asyncio.open_connection(HOST, ports.tcp)
        back.write(pli_xml("TEAM", "Rescue-3"))
        received = bytearray()
        await read_until(back_reader, received, b"after space returned")
        post.write(chat_xml("POST", "Command", "live again", to_callsign="Rescue-3"))
        await read_until(back_reader, received, b"live again")
        assert received.count(b"after space returned") == 1
        assert b"while full" not in received
        for writer in (watch, post, back):
            writer.close()
    finally:
        await server.stop()
