"""KML (OGC KML 2.2) of map items and tracks: pure, values in, bytes out.

Each item is a ``Placemark`` at its latest position; an item with more than one position also
gets a track ``Placemark`` (a ``LineString`` through its positions in time order, with the
``TimeSpan`` they cover). ElementTree writes the document, so every name and description is
escaped and the result is well-formed XML whatever the items carry.
"""

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from rallypoint.cot.timefmt import format_time

KML_NAMESPACE = "http://www.opengis.net/kml/2.2"
KML_MEDIA_TYPE = "application/vnd.google-earth.kml+xml"
KMZ_MEDIA_TYPE = "application/vnd.google-earth.kmz"
KMZ_ENTRY = "doc.kml"


@dataclass(frozen=True)
class Position:
    time: int
    """Milliseconds since the epoch."""
    lat: float
    lon: float
    hae: float


@dataclass(frozen=True)
class KmlItem:
    """One map item: its uid, a display name, its CoT type and its positions (any order)."""

    uid: str
    name: str
    type: str
    positions: tuple[Position, ...]


def _coordinates(position: Position) -> str:
    return f"{position.lon:.7f},{position.lat:.7f},{position.hae:.1f}"


def _data(parent: ET.Element, values: dict[str, str]) -> None:
    extended = ET.SubElement(parent, "ExtendedData")
    for name, value in values.items():
        ET.SubElement(ET.SubElement(extended, "Data", name=name), "value").text = value


def _placemark(folder: ET.Element, item: KmlItem, ordered: list[Position]) -> None:
    latest = ordered[-1]
    placemark = ET.SubElement(folder, "Placemark", id=item.uid)
    ET.SubElement(placemark, "name").text = item.name
    ET.SubElement(ET.SubElement(placemark, "TimeStamp"), "when").text = format_time(latest.time)
    _data(placemark, {"uid": item.uid, "type": item.type})
    ET.SubElement(ET.SubElement(placemark, "Point"), "coordinates").text = _coordinates(latest)
    if len(ordered) > 1:
        track = ET.SubElement(folder, "Placemark", id=f"{item.uid}.track")
        ET.SubElement(track, "name").text = f"{item.name} track"
        span = ET.SubElement(track, "TimeSpan")
        ET.SubElement(span, "begin").text = format_time(ordered[0].time)
        ET.SubElement(span, "end").text = format_time(latest.time)
        _data(track, {"uid": item.uid, "type": item.type, "points": str(len(ordered))})
        line = ET.SubElement(track, "LineString")
        ET.SubElement(line, "tessellate").text = "1"
        ET.SubElement(line, "coordinates").text = " ".join(_coordinates(p) for p in ordered)


def kml_document(title: str, items: Iterable[KmlItem]) -> bytes:
    """A KML document named ``title`` with one folder holding every item (and its track)."""
    root = ET.Element("kml", xmlns=KML_NAMESPACE)
    document = ET.SubElement(root, "Document")
    ET.SubElement(document, "name").text = title
    folder = ET.SubElement(document, "Folder")
    ET.SubElement(folder, "name").text = title
    for item in items:
        if item.positions:
            _placemark(folder, item, sorted(item.positions, key=lambda p: p.time))
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def kmz(document: bytes) -> bytes:
    """A KMZ: the document zipped as ``doc.kml``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(KMZ_ENTRY, document)
    return buffer.getvalue()
