"""Response headers every HTTP port sends, and how stored files are handed back.

Uploaded files come from anyone in a group, so serving one must never let a browser run it:
a file is always an attachment, its type is kept only when it is on a short list of passive
types (anything else, ``text/html`` and SVG included, becomes ``application/octet-stream``),
``nosniff`` stops the browser guessing, and the API ports' CSP forbids everything (no page
is served there). The file name reaches the header only as RFC 6266 ``filename*`` (percent
encoded UTF-8) beside an ASCII fallback without quotes, backslashes or control characters,
so a name with CRLF or quotes cannot add a header or break out of the parameter.
"""

import re
from urllib.parse import quote

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
"""Ports 8443, 8080 and 8446 serve JSON, XML and files, never a page: nothing may load or run."""
PASSIVE_MEDIA_TYPES = frozenset(
    {
        "application/octet-stream",
        "application/zip",
        "application/x-zip-compressed",
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/gif",
        "text/plain",
    }
)
"""Types a browser shows without running anything in the server's origin; others are served as bytes."""
FALLBACK_MEDIA_TYPE = "application/octet-stream"
_ASCII_FALLBACK_UNSAFE = re.compile(r'[^\x20-\x7e]|["\\%;]')


def served_media_type(stored: str | None) -> str:
    """The ``Content-Type`` to serve a stored file with: its own if passive, else opaque bytes."""
    base = (stored or "").split(";", 1)[0].strip().lower()
    return base if base in PASSIVE_MEDIA_TYPES else FALLBACK_MEDIA_TYPE


def attachment(filename: str) -> str:
    """``Content-Disposition: attachment`` naming ``filename`` safely (RFC 6266 and RFC 8187)."""
    fallback = _ASCII_FALLBACK_UNSAFE.sub("_", filename) or "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class SecurityHeaders:
    """Adds ``nosniff``, a CSP and anti-framing headers to every HTTP response of an app.

    ``csp`` replaces whatever the app set; a subclass may add a cache policy by path
    (:meth:`cache_control`), as the web command post does for its page and assets.
    """

    def __init__(self, app: ASGIApp, csp: str = API_CSP) -> None:
        self.app = app
        self.csp = csp

    def cache_control(self, path: str, headers: MutableHeaders) -> None:
        """Subclasses set a cache policy by path; the API ports leave the app's."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["content-security-policy"] = self.csp
                headers["x-content-type-options"] = "nosniff"
                headers["referrer-policy"] = "no-referrer"
                headers["x-frame-options"] = "DENY"
                self.cache_control(path, headers)
            await send(message)

        await self.app(scope, receive, with_headers)
