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
PNG_SCALE = 8
"""Pixels per module: a version-6 code is about 400 px wide, easy for a phone to read off a screen."""
QUIET_ZONE = 4
"""Modules of white border the QR standard asks for around the code."""


def enrollment_link(host: str, username: str, token: str) -> str:
    """The link with each value percent-encoded, so a ``&`` in a password stays in the password."""
    query = urlencode({"host": host, "username": username, "token": token}, quote_via=quote, safe="")
    return f"{ENROLL_LINK}?{query}"


def write_enrollment_qr(link: str, png: Path) -> str:
    """Write ``link`` as a PNG (mode 0600) and return the same code drawn with text blocks."""
    code = segno.make(link, error="m")
    image = io.BytesIO()
    code.save(image, kind="png", scale=PNG_SCALE, border=QUIET_ZONE)
    write_atomic(png, image.getvalue(), PRIVATE)
    text = io.StringIO()
    code.terminal(out=text, compact=True, border=QUIET_ZONE)
    return text.getvalue()
