"""Logging in to the web command post with a browser's client certificate (``web_tls``).

The port asks for a certificate without requiring one (a password login stays possible):
OpenSSL checks a presented one against our CA; the identity store then decides exactly as
on the streaming port (:func:`rallypoint.transport.handshake.identify`: recorded, not revoked,
user enabled). uvicorn does not show the TLS peer to the application, so the HTTP protocol
of each connection wraps its app with the connection's SSL object
(:class:`CertificateH11Protocol`); ``/api/session`` turns a verified certificate into a
session when the page has none yet.
"""

import asyncio
import logging
import ssl
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from rallypoint.errors import PkiError
from rallypoint.http.command_post.login import CertificateUser
from rallypoint.pki.identities import IdentityStore
from rallypoint.transport.handshake import Refused, identify

log = logging.getLogger(__name__)

PEER_SCOPE_KEY = "rallypoint.tls_peer"
"""Where each request's scope carries the connection's SSL object (HTTPS only)."""


class CertificateH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, telling the app which TLS connection a request came on."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if isinstance(ssl_object, ssl.SSLObject):
            self.app = _with_peer(self.app, ssl_object)


def _with_peer(app: ASGIApp, ssl_object: ssl.SSLObject) -> ASGIApp:
    async def bound(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, PEER_SCOPE_KEY: ssl_object}, receive, send)

    return bound


def certificate_user(
    store: Callable[[], IdentityStore | None], audit: Callable[..., None]
) -> CertificateUser:
    """The web login's certificate check: ``(user, groups, serial)`` of a verified, recorded one."""

    def check(scope: Scope) -> tuple[str, frozenset[str], int] | None:
        ssl_object = scope.get(PEER_SCOPE_KEY)
        identities = store()
        if not isinstance(ssl_object, ssl.SSLObject) or identities is None:
            return None
        if ssl_object.getpeercert(binary_form=True) is None:
            return None  # no certificate presented: the page logs in with a password
        try:
            identity = identify(identities, ssl_object)
        except Refused as refused:
            log.warning("web: certificate of %s refused: %s", refused.user or "?", refused)
            audit("login_failed", user=refused.user, reason=f"certificate {refused.reason}", transport="web")
            return None
        except PkiError as exc:
            log.warning("web: cannot read the identity store: %s", exc)
            return None
        return identity.name, identity.groups, identity.serial

    return check
