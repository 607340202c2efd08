"""Where a run's connections go: plain TCP, or mutual TLS with the identity each one presents."""

import ssl
from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    """Where one bench connection goes, and how: plain TCP, or TLS presenting a client certificate."""

    host: str
    port: int
    ssl_context: ssl.SSLContext | None = None
    """None: plain TCP."""
    server_hostname: str | None = None
    """The name the server's certificate must carry (TLS only)."""

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Route:
    """How a run's connections reach the server: receivers share one endpoint, senders may differ."""

    receivers: Endpoint
    senders: tuple[Endpoint, ...]
    """Sender ``i`` uses ``senders[i % len(senders)]`` (over TLS: its own identity)."""
    offers: bool = True
    """The server sends a TAK protocol offer on connect, and clients wait for it; a peer
    server that sends none (taky) is counted from the moment a connection opens."""
    spread: tuple[Endpoint, ...] = ()
    """Receiver ``i`` uses ``spread[i % len(spread)]`` when given (the nodes of a cluster)."""

    @classmethod
    def plain(cls, host: str, port: int, *, offers: bool = True) -> "Route":
        """Plain TCP to ``host:port`` for every connection."""
        endpoint = Endpoint(host, port)
        return cls(endpoint, (endpoint,), offers)

    @property
    def tls(self) -> bool:
        """Whether the connections use TLS."""
        return self.receivers.ssl_context is not None

    def receiver(self, index: int) -> Endpoint:
        """The endpoint of receiver ``index``."""
        return self.spread[index % len(self.spread)] if self.spread else self.receivers

    def sender(self, index: int) -> Endpoint:
        """The endpoint of sender ``index``."""
        return self.senders[index % len(self.senders)]
