"""Onboarding data packages a TAK client imports to connect (reference §4.4).

Layout (as ATAK and pytak build it; the zip holds ``certs/…`` while the preferences name the
files ``cert/…``, the folder ATAK imports certificates into)::

    MANIFEST/manifest.xml        MissionPackageManifest version 2
    certs/server.pref            cot_streams + com.atakmap.app_preferences
    certs/truststore.p12         the CA, to trust the server (8089 and 8446)
    certs/<name>.p12             connection packages only: the client key and certificate

A connection package is a credential: whoever holds it can connect as its user, because the
preferences carry the keystore password (ATAK reads it from there). It is written with mode
0600. An enrollment package holds no identity: the user enrolls with name and password.
"""

import io
import re
import uuid
import zipfile
from collections.abc import Sequence
from pathlib import Path
from xml.etree import ElementTree as ET

from cryptography import x509

from rallypoint.errors import PkiError
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.certificates import PrivateKey
from rallypoint.pki.files import PRIVATE, write_atomic
from rallypoint.pki.keystores import client_keystore, truststore

PREF_ENTRY = "certs/server.pref"
TRUSTSTORE_ENTRY = "certs/truststore.p12"
TRUSTSTORE_LOCATION = "cert/truststore.p12"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
_JAVA_CLASS = {bool: "class java.lang.Boolean", int: "class java.lang.Integer", str: "class java.lang.String"}

Entries = Sequence[tuple[str, str | int | bool]]


def write_connection_package(
    out_dir: Path,
    name: str,
    *,
    host: str,
    tls_port: int,
    authority: CertificateAuthority,
    certificate: x509.Certificate,
    key: PrivateKey,
    password: str,
) -> Path:
    """``out_dir/<name>.zip``: connect to ``host:tls_port`` over TLS as the certificate's owner."""
    data = connection_package(
        name,
        host=host,
        tls_port=tls_port,
        authority=authority,
        certificate=certificate,
        key=key,
        password=password,
    )
    return _write_package(_checked_dir(out_dir), name, data)


def connection_package(
    name: str,
    *,
    host: str,
    tls_port: int,
    authority: CertificateAuthority,
    certificate: x509.Certificate,
    key: PrivateKey,
    password: str,
) -> bytes:
    """The bytes of ``<name>.zip`` (see :func:`write_connection_package`), for the web's download."""
    client_file = f"{_checked(name)}.p12"
    locations: Entries = [
        ("caLocation", TRUSTSTORE_LOCATION),
        ("caPassword", password),
        ("certificateLocation", f"cert/{client_file}"),
        ("clientPassword", password),
    ]
    pref = preferences([*_stream(host, tls_port), *_first_stream(locations)], locations)
    files = {
        PREF_ENTRY: pref,
        TRUSTSTORE_ENTRY: truststore(authority.certificate, password),
        f"certs/{client_file}": client_keystore(name, certificate, key, authority.certificate, password),
    }
    return package_zip(f"{name}.zip", files)


def write_enrollment_package(
    out_dir: Path, name: str, *, host: str, tls_port: int, authority: CertificateAuthority, password: str
) -> Path:
    """``out_dir/<name>.zip``: trust the server, then enroll for a certificate with a password."""
    locations: Entries = [("caLocation", TRUSTSTORE_LOCATION), ("caPassword", password)]
    stream: Entries = [
        *_stream(host, tls_port),
        *_first_stream(locations),
        ("enrollForCertificateWithTrust0", True),
        ("useAuth0", True),
    ]
    files = {
        PREF_ENTRY: preferences(stream, locations),
        TRUSTSTORE_ENTRY: truststore(authority.certificate, password),
    }
    return _write_package(_checked_dir(out_dir), _checked(name), package_zip(f"{name}.zip", files))


def preferences(streams: Entries, app: Entries) -> bytes:
    """An ATAK preference file with the ``cot_streams`` and ``com.atakmap.app_preferences`` groups."""
    root = ET.Element("preferences")
    for group, entries in (("cot_streams", streams), ("com.atakmap.app_preferences", app)):
        preference = ET.SubElement(root, "preference", version="1", name=group)
        for key, value in entries:
            entry = ET.SubElement(preference, "entry", {"key": key, "class": _JAVA_CLASS[type(value)]})
            entry.text = str(value).lower() if isinstance(value, bool) else str(value)
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode")
    return f"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n{text}\n".encode()


def manifest(package_name: str, entries: Sequence[str]) -> bytes:
    """``MANIFEST/manifest.xml``: a fresh uid, the package name, one Content per file."""
    root = ET.Element("MissionPackageManifest", version="2")
    configuration = ET.SubElement(root, "Configuration")
    for key, value in (("uid", str(uuid.uuid4())), ("name", package_name), ("onReceiveDelete", "true")):
        ET.SubElement(configuration, "Parameter", name=key, value=value)
    contents = ET.SubElement(root, "Contents")
    for entry in entries:
        ET.SubElement(contents, "Content", ignore="false", zipEntry=entry)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode").encode("utf-8") + b"\n"


def _stream(host: str, tls_port: int) -> list[tuple[str, str | int | bool]]:
    return [
        ("count", 1),
        ("description0", f"Rallypoint {host}"),
        ("enabled0", True),
        ("connectString0", f"{host}:{tls_port}:ssl"),
    ]


def _first_stream(entries: Entries) -> Entries:
    """The app-wide settings as ``cot_streams`` settings of stream 0 (``caLocation`` -> ``caLocation0``)."""
    return [(f"{setting}0", value) for setting, value in entries]


def package_zip(package_name: str, files: dict[str, bytes]) -> bytes:
    """A data package holding ``files`` and its manifest."""
    buffer = io.BytesIO()
    # Stored, not deflated, as pytak builds them: every TAK client reads stored entries.
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("MANIFEST/manifest.xml", manifest(package_name, list(files)))
        for entry, data in files.items():
            archive.writestr(entry, data)
    return buffer.getvalue()


def _write_package(out_dir: Path, name: str, data: bytes) -> Path:
    path = out_dir / f"{name}.zip"
    write_atomic(path, data, PRIVATE)
    return path


def _checked(name: str) -> str:
    if not _SAFE_NAME.fullmatch(name):
        raise PkiError(f"invalid package name {name!r}")
    return name


def _checked_dir(out_dir: Path) -> Path:
    if not out_dir.is_dir():
        raise PkiError(f"{out_dir} is not a directory")
    return out_dir
