"""Which messages written to a socket its peer's TCP stack has acknowledged.

A message handed to ``transport.write`` is not delivered: it may sit in asyncio's buffer or
in the kernel's send queue when the link drops, and a reset or a vanished device loses it.
So a connection counts the bytes it writes and remembers, for every returnable message (see
``Outbound.returnable``), the offset its bytes end at. The acknowledged offset is what was
written minus what asyncio still buffers minus the kernel's unacknowledged bytes (Linux
``SIOCOUTQ``: bytes in the send queue not yet acknowledged by the peer). A message whose end
offset is at or below it has reached the peer's TCP stack.

What holds under TLS: asyncio buffers plaintext and ciphertext at two levels and the kernel
counts ciphertext, whose records carry overhead, so plaintext offsets cannot be mapped
exactly. TLS connections therefore use the conservative rule: everything written is
acknowledged when asyncio buffers nothing and the send queue is empty; until then nothing
is. The count is trusted only while the connection is established (``TCP_INFO`` state): a
reset empties the send queue without anything having been acknowledged. Where ``SIOCOUTQ``
is missing (not Linux) writes count as acknowledged when handed to the kernel.
"""

import collections
import fcntl
import socket
import struct
import termios
from typing import Protocol

from rallypoint.router.message import Outbound

_SIOCOUTQ = getattr(termios, "TIOCOUTQ", None)
"""Linux: SIOCOUTQ and TIOCOUTQ are the same request."""

_TRUSTED_STATES = frozenset({1, 8})
"""``TCP_ESTABLISHED`` and ``TCP_CLOSE_WAIT`` (the peer sent FIN but still acknowledges)."""


class _Socket(Protocol):
    def fileno(self) -> int: ...

    def getsockopt(self, level: int, option: int, buflen: int, /) -> bytes: ...


def unacknowledged_bytes(sock: _Socket) -> int | None:
    """Bytes in ``sock``'s send queue its peer has not acknowledged; None if that cannot be told."""
    if _SIOCOUTQ is None:
        return 0
    try:
        state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
        if state not in _TRUSTED_STATES:
            return None
        queued = fcntl.ioctl(sock.fileno(), _SIOCOUTQ, b"\0\0\0\0")
    except (OSError, ValueError):  # closed, or not a TCP socket
        return None
    return int(struct.unpack("i", queued)[0])


class AckTracker:
    """Returnable messages written to one connection, oldest first (see the module docstring)."""

    __slots__ = ("_exact", "_inflight", "_sock", "written")

    def __init__(self, sock: _Socket | None, *, exact: bool) -> None:
        self._sock = sock
        self._exact = exact
        """Plain TCP: plaintext offsets are kernel offsets. TLS: all or nothing."""
        self.written = 0
        self._inflight: collections.deque[tuple[int, Outbound]] | None = None
        """(end offset, message); bounded by what asyncio and the kernel buffer for one socket
        (the stall timeout ends a connection whose peer acknowledges nothing). Made at the first
        returnable write: an empty deque costs ~600 bytes, and most connections never get one."""

    def __bool__(self) -> bool:
        return bool(self._inflight)

    @property
    def allocated(self) -> bool:
        """Whether the queue of written messages exists yet (it is made at the first one)."""
        return self._inflight is not None

    def wrote(self, size: int, returnable: list[Outbound]) -> None:
        """``size`` bytes were handed to the transport, carrying ``returnable`` (in order)."""
        self.written += size
        if not returnable:
            return
        if self._inflight is None:
            self._inflight = collections.deque()
        end = self.written
        self._inflight.extend((end, message) for message in returnable)

    def acknowledged(self, buffered: int) -> list[Outbound]:
        """Messages acknowledged since the last call; ``buffered``: bytes asyncio still holds."""
        inflight = self._inflight
        if not inflight:
            return []
        unacked = 0 if self._sock is None else unacknowledged_bytes(self._sock)
        if unacked is None:
            return []
        pending = buffered + unacked
        offset = self.written - pending if self._exact or pending == 0 else -1
        done: list[Outbound] = []
        while inflight and inflight[0][0] <= offset:
            done.append(inflight.popleft()[1])
        return done

    def unacknowledged(self) -> list[Outbound]:
        """What was written and not (known to be) acknowledged, in the order written; forgotten here."""
        if self._inflight is None:
            return []
        messages = [message for _, message in self._inflight]
        self._inflight = None
        return messages
