"""QR-code onboarding: the enrollment link ATAK and iTAK read from a QR code.

Both clients scan ``tak://com.atakmap.app/enroll?host=H&username=U&token=T`` and then enroll
for a client certificate with that user name and password on the server's enrollment port
(8446, the only one the link can name), before streaming over TLS. The code carries the
password in clear, so it is shown once and its PNG is written readable by its owner only.
"""

import io
from pathlib import Path
from urllib.parse import quote, urlencode

import segno

from rallypoint.pki.files import PRIVATE, write_atomic

ENROLL_LINK = "tak://com.atakmap.app/enroll"
TAK_ENROLLMENT_PORT = 8446
"""The port ATAK and iTAK enroll on after scanning a QR code (the link cannot name another)."""
TAK_STREAMING_PORT = 8089
"""The TLS streaming port those clients then connect to by default."""
PNG_SCALE = 8
"""Pixels per module: a version-6 code is about 400 px wide, easy for a phone to read off a screen."""
QUIET_ZONE = 4
"""Modules of white border the QR standard asks for around the code."""


def enrollment_link(host: str, username: str, token: str) -> str:
    """The link with each value percent-encoded, so a ``&`` in a password stays in the password."""
    query = urlencode({"host": host, "username": username, "token": token}, quote_via=quote, safe="")
    return f"{ENROLL_LINK}?{query}"


def enrollment_png(link: str) -> bytes:
    """``link`` as a QR code in a PNG (the web command post shows it; the CLI writes it)."""
    image = io.BytesIO()
    segno.make(link, error="m").save(image, kind="png", scale=PNG_SCALE, border=QUIET_ZONE)
    return image.getvalue()


def write_enrollment_qr(link: str, png: Path) -> str:
    """Write ``link`` as a PNG (mode 0600) and return the same code drawn with text blocks."""
    write_atomic(png, enrollment_png(link), PRIVATE)
    code = segno.make(link, error="m")
    text = io.StringIO()
    code.terminal(out=text, compact=True, border=QUIET_ZONE)
    return text.getvalue()
