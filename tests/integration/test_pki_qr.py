"""``rallypoint package NAME --qr`` as an operator runs it: the code printed on the terminal and
the PNG both decode (with zxing-cpp, a reader we did not write) to the enrollment link ATAK and
iTAK scan, carrying the server and the user's checked password."""

import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import zxingcpp
from PIL import Image

from tests.integration.test_pki_cli import ok, rallypoint

PASSWORD = "p&ss w0rd=1?#"
"""Every character that would break a link not percent-encoded."""
HALF_BLOCKS = {"█": (True, True), "▀": (True, False), "▄": (False, True), " ": (False, False)}
"""segno's compact drawing: per character the (upper, lower) module, True where light."""


def decoded(image: Image.Image) -> str:
    results = zxingcpp.read_barcodes(image)
    assert [result.format for result in results] == [zxingcpp.BarcodeFormat.QRCode]
    return str(results[0].text)


def terminal_image(drawing: str) -> Image.Image:
    """The printed code back as a bitmap, two module rows per text line, 4 pixels a module."""
    lines = [line for line in drawing.splitlines() if line and set(line) <= set(HALF_BLOCKS)]
    width = max(len(line) for line in lines)
    image = Image.new("L", (width, 2 * len(lines)), 0)
    for row, line in enumerate(lines):
        for column, char in enumerate(line):
            upper, lower = HALF_BLOCKS[char]
            image.putpixel((column, 2 * row), 255 if upper else 0)
            image.putpixel((column, 2 * row + 1), 255 if lower else 0)
    return image.resize((width * 4, 2 * len(lines) * 4), Image.Resampling.NEAREST)


def test_the_qr_code_carries_the_enrollment_link(tmp_path: Path) -> None:
    ok(rallypoint(tmp_path, "user", "add", "alice", "--group", "ops", stdin=PASSWORD + "\n"))
    printed = ok(
        rallypoint(
            tmp_path,
            "package",
            "alice",
            "--qr",
            "--host",
            "localhost",
            "--out",
            str(tmp_path),
            stdin=PASSWORD + "\n",
        )
    )
    png = tmp_path / "alice-enroll.png"
    assert printed.splitlines()[-1].startswith(f"wrote {png}")
    assert stat.S_IMODE(png.stat().st_mode) == 0o600, "it holds a password"
    with Image.open(png) as image:
        assert image.format == "PNG"
        from_png = decoded(image.convert("L"))
    from_terminal = decoded(terminal_image(printed))
    assert from_terminal == from_png
    link = urlsplit(from_png)
    assert (link.scheme, link.netloc, link.path) == ("tak", "com.atakmap.app", "/enroll")
    assert parse_qs(link.query) == {"host": ["localhost"], "username": ["alice"], "token": [PASSWORD]}


def test_no_code_for_a_wrong_password_or_an_unknown_user(tmp_path: Path) -> None:
    ok(rallypoint(tmp_path, "user", "add", "alice", "--group", "ops", stdin=PASSWORD + "\n"))
    wrong = rallypoint(tmp_path, "package", "alice", "--qr", "--out", str(tmp_path), stdin="guess\n")
    unknown = rallypoint(tmp_path, "package", "nobody", "--qr", "--out", str(tmp_path), stdin="guess\n")
    assert (wrong.returncode, unknown.returncode) == (2, 2)
    assert "wrong password for alice" in wrong.stderr
    assert "Traceback" not in wrong.stderr + unknown.stderr
    assert list(tmp_path.glob("*.png")) == []
    ok(rallypoint(tmp_path, "package", "alice", "--qr", "--out", str(tmp_path), stdin=PASSWORD + "\n"))
    again = rallypoint(tmp_path, "package", "alice", "--qr", "--out", str(tmp_path), stdin=PASSWORD + "\n")
    assert again.returncode == 2, "an existing code is not overwritten"
