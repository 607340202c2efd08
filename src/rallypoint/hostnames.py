"""The names and addresses this machine answers to, for a server certificate that devices accept.

A device checks the server certificate against the address it was told to connect to. When the
``hostnames`` setting is left empty, the certificate names what a LAN device could be given: the
machine's IPv4 addresses (from its interfaces) and its host name, plus ``localhost`` and
``127.0.0.1`` for clients on the machine itself. LAN addresses come first, because the first
name is the default host written into client packages.

Only local sources are read (the interface table, ``/etc/hosts`` through the resolver); nothing
here waits on the network for long: a resolver failure just leaves that name out.
"""

import fcntl
import functools
import ipaddress
import socket
import struct
import sys

LOOPBACK_NAMES = ("localhost", "127.0.0.1")
"""Always named: clients on the server's own machine (and the tests) use these."""

_SIOCGIFADDR = 0x8915
"""Linux ioctl that reads an interface's IPv4 address."""
_IFREQ_SIZE = 40
"""``struct ifreq`` is 40 bytes on Linux (16-byte name + a 24-byte union)."""


@functools.cache
def local_names() -> tuple[str, ...]:
    """This machine's LAN addresses, then its host name, then the loopback names; no duplicates.

    Cached: the answer is read once per process, at the first start-up that needs it.
    """
    found = {*interface_addresses(), *resolved_addresses()}
    addresses = sorted((a for a in found if _nameable(a)), key=_lan_first)
    host = socket.gethostname()
    names = [*addresses, *([host] if host and host != "localhost" else []), *LOOPBACK_NAMES]
    return tuple(dict.fromkeys(names))


def lan_addresses(names: tuple[str, ...] | list[str]) -> list[str]:
    """The IP addresses among ``names`` that are not loopback (what a device on the LAN can use)."""
    found = []
    for name in names:
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            continue
        if not address.is_loopback and not address.is_unspecified:
            found.append(name)
    return found


def is_loopback_host(host: str) -> bool:
    """True if a listener bound to ``host`` can be reached only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def interface_addresses() -> list[str]:
    """IPv4 addresses of the network interfaces (Linux); empty where the ioctl is not available."""
    if not sys.platform.startswith("linux"):
        return []
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack(f"{_IFREQ_SIZE}s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
            except OSError:  # no IPv4 address on this interface
                continue
            found.append(socket.inet_ntoa(answer[20:24]))
    return found


def resolved_addresses() -> list[str]:
    """What the host name resolves to (``/etc/hosts`` first); empty if it does not resolve."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return [str(info[4][0]) for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]


def _nameable(address: str) -> bool:
    """LAN addresses only: loopback is named anyway, and link-local addresses carry a scope
    (``%eth0``) that a certificate cannot name."""
    parsed = ipaddress.ip_address(address)
    return not (parsed.is_loopback or parsed.is_link_local or parsed.is_unspecified)


def _lan_first(address: str) -> tuple[bool, str]:
    """IPv4 before IPv6: ATAK's connection settings are usually typed as dotted quads."""
    return (ipaddress.ip_address(address).version == 6, address)
