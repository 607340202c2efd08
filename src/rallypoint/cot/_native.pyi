"""Types of the native twin built from ``_native.c`` (absent when it was not built)."""

EXPAT_VERSION: str

class ScanError(ValueError): ...
class UnsupportedEncoding(ValueError): ...

def scan(
    data: bytes, detail_root: bool, max_depth: int, capture: frozenset[str], text_tags: frozenset[str], /
) -> tuple[
    str,
    dict[str, str],
    dict[str, str] | None,
    bool,
    int,
    int,
    str | None,
    list[tuple[str, dict[str, str], list[tuple[str, dict[str, str]]], str]],
]: ...
def check_well_formed(data: bytes, /) -> None: ...
def event_tags(data: bytes | bytearray, /) -> int: ...
def xml_end(
    buffer: bytes | bytearray, position: int, closer: bytes, name: bytes, space: int, /
) -> tuple[int, bytes, int]: ...
def event_numbers(
    root: dict[str, str], point: dict[str, str], /
) -> tuple[int, int, int, float, float, float, float, float] | None: ...
