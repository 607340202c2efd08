"""One-pass reading of a CoT event with expat: what routing needs, and no tree.

Building a full element tree and walking it from Python costs several times more than
the parse itself. Here expat calls back once per element; we keep the attributes of
``<event>`` and ``<point>``, the few ``<detail>`` children routing reads (with their own
children), and the byte offsets of ``<detail>``'s content, which is kept verbatim.

Safety: the caller has already refused any DOCTYPE or entity declaration, so expat sees
no DTD and expands nothing but the five predefined entities and character references;
namespace processing is on so that an unbound prefix is an error here, as it is in the
tree parser used later for conversions. Nesting is capped while parsing.
"""

from pyexpat import ExpatError, ParserCreate

from rallypoint.errors import InvalidEvent, MalformedXml

NAMESPACE_SEPARATOR = " "
TEXT_TAGS = frozenset({"emergency"})
"""Captured elements whose text content routing reads."""


def check_well_formed(data: bytes) -> None:
    """Parse without collecting anything: the cheapest proof that ``data`` is well-formed XML."""
    try:
        ParserCreate(namespace_separator=NAMESPACE_SEPARATOR).Parse(data, True)
    except ExpatError as exc:
        raise MalformedXml(f"not well-formed XML: {exc}") from exc
    except LookupError as exc:  # pyexpat looks a declared encoding up among Python's codecs
        raise MalformedXml(f"unknown encoding: {exc}") from exc


class Node:
    """A captured ``<detail>`` child: its attributes, its children's, and its text."""

    __slots__ = ("attributes", "children", "tag", "text")

    def __init__(
        self,
        tag: str,
        attributes: dict[str, str],
        children: list[tuple[str, dict[str, str]]] | None = None,
        text: str = "",
    ) -> None:
        self.tag = tag
        self.attributes = attributes
        self.children: list[tuple[str, dict[str, str]]] = [] if children is None else children
        self.text = text


class ScanResult:
    """What one pass over an event (or a bare ``<detail>``) collected, by either scanner."""

    __slots__ = (
        "detail_content_start",
        "detail_end",
        "detail_found",
        "encoding",
        "nodes",
        "point",
        "root",
        "root_tag",
    )

    def __init__(
        self,
        *,
        root_tag: str,
        root: dict[str, str],
        point: dict[str, str] | None,
        detail_found: bool,
        detail_content_start: int,
        detail_end: int,
        encoding: str | None,
        nodes: list[Node],
    ) -> None:
        self.root_tag = root_tag
        self.root = root
        self.point = point
        self.detail_found = detail_found
        self.detail_content_start = detail_content_start
        self.detail_end = detail_end
        self.encoding = encoding
        self.nodes = nodes

    def detail_text(self, data: bytes) -> str:
        """The content of ``<detail>`` exactly as the sender wrote it."""
        if self.detail_content_start < 0 or self.detail_end < self.detail_content_start:
            return ""
        raw = data[self.detail_content_start : self.detail_end]
        try:
            return raw.decode(self.encoding or "utf-8")
        except (LookupError, UnicodeDecodeError) as exc:
            raise InvalidEvent(f"cannot decode detail as {self.encoding or 'utf-8'}") from exc


class Scan(ScanResult):
    """The pure-Python scan: expat calls back into Python once per element."""

    __slots__ = (
        "_capture",
        "_current",
        "_data",
        "_depth",
        "_detail_depth",
        "_in_detail",
        "_max_depth",
        "_parser",
    )

    def __init__(self, data: bytes, *, detail_root: bool, max_depth: int, capture: frozenset[str]) -> None:
        self._data = data
        self._max_depth = max_depth
        self._capture = capture
        self._depth = 0
        self._detail_depth = 1 if detail_root else 2
        self._in_detail = False
        self._current: Node | None = None
        super().__init__(
            root_tag="",
            root={},
            point=None,
            detail_found=False,
            detail_content_start=-1,
            detail_end=-1,
            encoding=None,
            nodes=[],
        )
        parser = ParserCreate(namespace_separator=NAMESPACE_SEPARATOR)
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.XmlDeclHandler = self._declaration
        self._parser = parser
        try:
            parser.Parse(data, True)
        except ExpatError as exc:
            raise MalformedXml(f"not well-formed XML: {exc}") from exc
        except LookupError as exc:  # an encoding declared that no Python codec knows
            raise MalformedXml(f"unknown encoding: {exc}") from exc
        finally:
            del self._parser  # the handlers refer back to self: break the cycle now
            self._data = b""

    def _declaration(self, _version: str, encoding: str | None, _standalone: int) -> None:
        self.encoding = encoding

    def _start(self, tag: str, attributes: dict[str, str]) -> None:
        self._depth += 1
        depth = self._depth
        if depth > self._max_depth:
            raise MalformedXml(f"XML nests deeper than {self._max_depth} levels")
        if depth == 1:
            self.root_tag, self.root = tag, attributes
            if self._detail_depth == 1:
                self._open_detail(attributes)
        elif depth == self._detail_depth + 1 and self._in_detail:
            if self.detail_content_start < 0:
                self.detail_content_start = self._byte_index()
            if tag in self._capture:
                self._current = Node(tag, attributes)
                self.nodes.append(self._current)
                if tag in TEXT_TAGS:  # text callbacks are costly: only where text is read
                    self._parser.CharacterDataHandler = self._text
            else:
                self._current = None
        elif depth == self._detail_depth + 2 and self._current is not None:
            self._current.children.append((tag, attributes))
        elif depth == 2 and self._detail_depth == 2:
            if tag == "point" and self.point is None:
                self.point = attributes
            elif tag == "detail" and not self.detail_found:
                self._open_detail(attributes)

    def _open_detail(self, attributes: dict[str, str]) -> None:
        self.detail_found = True
        self._in_detail = True
        if not attributes:  # no attribute values, so the first ">" ends the start tag
            self.detail_content_start = self._data.index(b">", self._byte_index()) + 1

    def _end(self, _tag: str) -> None:
        depth = self._depth
        if depth == self._detail_depth and self._in_detail:
            self._in_detail = False
            self.detail_end = self._byte_index()
        elif depth == self._detail_depth + 1:
            if self._current is not None and self._current.tag in TEXT_TAGS:
                self._parser.CharacterDataHandler = None
            self._current = None
        self._depth = depth - 1

    def _text(self, text: str) -> None:
        if self._current is not None and self._depth == self._detail_depth + 1:
            self._current.text += text

    def _byte_index(self) -> int:
        return self._parser.CurrentByteIndex
