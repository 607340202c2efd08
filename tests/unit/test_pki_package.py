"""Onboarding data packages: layout, manifest, preferences, and keystores other readers can open."""

import shutil
import stat
import subprocess
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12
from pytak.crypto_functions import load_cert

from rallypoint.errors import PkiError
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.keystores import new_password
from rallypoint.pki.package import write_connection_package, write_enrollment_package

NOW = datetime.now(UTC)
TAK_DEFAULT_PASSWORD = "atakatak"


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(tmp_path_factory.mktemp("data"), ["tak.example.org"], NOW)


@pytest.fixture
def connection(tmp_path: Path, authority: CertificateAuthority) -> tuple[Path, str]:
    certificate, key = authority.issue("alice", NOW, 30)
    password = new_password()
    path = write_connection_package(
        tmp_path,
        "alice",
        host="tak.example.org",
        tls_port=8089,
        authority=authority,
        certificate=certificate,
        key=key,
        password=password,
    )
    return path, password


def preferences(archive: zipfile.ZipFile) -> dict[str, dict[str, tuple[str, str]]]:
    """{preference group: {key: (java class, text)}} of certs/server.pref."""
    root = ET.fromstring(archive.read("certs/server.pref"))
    return {
        group.get("name", ""): {e.get("key", ""): (e.get("class", ""), e.text or "") for e in group}
        for group in root.iter("preference")
    }


def manifest(archive: zipfile.ZipFile) -> tuple[dict[str, str], list[str]]:
    root = ET.fromstring(archive.read("MANIFEST/manifest.xml"))
    assert root.tag == "MissionPackageManifest"
    assert root.get("version") == "2"
    parameters = {p.get("name", ""): p.get("value", "") for p in root.iterfind("Configuration/Parameter")}
    contents = [c.get("zipEntry", "") for c in root.iterfind("Contents/Content")]
    return parameters, contents


def test_connection_package_layout(connection: tuple[Path, str]) -> None:
    path, _ = connection
    assert path.name == "alice.zip"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "it holds a private key"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        parameters, contents = manifest(archive)
    assert sorted(names) == sorted(
        ["MANIFEST/manifest.xml", "certs/server.pref", "certs/truststore.p12", "certs/alice.p12"]
    )
    assert sorted(contents) == sorted(n for n in names if n != "MANIFEST/manifest.xml")
    assert uuid.UUID(parameters["uid"])
    assert parameters["name"] == "alice.zip"


def test_connection_preferences(connection: tuple[Path, str]) -> None:
    path, password = connection
    with zipfile.ZipFile(path) as archive:
        prefs = preferences(archive)
        names = set(archive.namelist())
    streams, app = prefs["cot_streams"], prefs["com.atakmap.app_preferences"]
    assert streams["count"] == ("class java.lang.Integer", "1")
    assert streams["enabled0"] == ("class java.lang.Boolean", "true")
    assert streams["connectString0"][1] == "tak.example.org:8089:ssl"
    assert streams["description0"][1]
    for settings, suffix in ((streams, "0"), (app, "")):
        assert settings[f"caPassword{suffix}"][1] == password
        assert settings[f"clientPassword{suffix}"][1] == password
        assert settings[f"caLocation{suffix}"][1] == "cert/truststore.p12"
        assert settings[f"certificateLocation{suffix}"][1] == "cert/alice.p12"
    locations = {streams["caLocation0"][1], streams["certificateLocation0"][1]}
    assert {"certs/" + location.removeprefix("cert/") for location in locations} <= names
    assert TAK_DEFAULT_PASSWORD not in password
    assert len(password) >= 24


def test_keystores_open_with_the_password_only(
    connection: tuple[Path, str], authority: CertificateAuthority
) -> None:
    path, password = connection
    with zipfile.ZipFile(path) as archive:
        client, trust = archive.read("certs/alice.p12"), archive.read("certs/truststore.p12")
    identity = pkcs12.load_pkcs12(client, password.encode())
    assert identity.key is not None
    assert identity.cert is not None
    assert identity.key.public_key() == identity.cert.certificate.public_key()
    assert [c.certificate for c in identity.additional_certs] == [authority.certificate]
    truststore = pkcs12.load_pkcs12(trust, password.encode())
    assert truststore.key is None
    assert [c.certificate for c in truststore.additional_certs] == [authority.certificate]
    for blob in (client, trust):
        with pytest.raises(ValueError, match="password"):
            pkcs12.load_key_and_certificates(blob, TAK_DEFAULT_PASSWORD.encode())


def test_pytak_reads_the_client_keystore(
    tmp_path: Path, connection: tuple[Path, str], authority: CertificateAuthority
) -> None:
    path, password = connection
    with zipfile.ZipFile(path) as archive:
        archive.extractall(tmp_path / "out")
    key, certificate, chain = load_cert(str(tmp_path / "out" / "certs" / "alice.p12"), password)
    assert certificate.subject.rfc4514_string() == "CN=alice,OU=Rallypoint,O=Rallypoint"
    assert key.public_key() == certificate.public_key()
    assert list(chain) == [authority.certificate]


@pytest.mark.skipif(shutil.which("keytool") is None, reason="Java keytool not installed")
def test_java_keytool_reads_both_keystores(tmp_path: Path, connection: tuple[Path, str]) -> None:
    """Java's PKCS#12 reader is the closest thing to Android's keystore that runs here."""
    path, password = connection
    with zipfile.ZipFile(path) as archive:
        archive.extractall(tmp_path)
    listings = {}
    for name in ("alice.p12", "truststore.p12"):
        result = subprocess.run(
            [
                "keytool",
                "-list",
                "-storetype",
                "PKCS12",
                "-keystore",
                str(tmp_path / "certs" / name),
                "-storepass",
                password,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        listings[name] = result.stdout
    assert "PrivateKeyEntry" in listings["alice.p12"]
    assert "trustedCertEntry" in listings["truststore.p12"]


def test_enrollment_package(tmp_path: Path, authority: CertificateAuthority) -> None:
    password = new_password()
    path = write_enrollment_package(
        tmp_path, "team-enrollment", host="10.0.0.5", tls_port=8089, authority=authority, password=password
    )
    assert path.name == "team-enrollment.zip"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        prefs = preferences(archive)
        _, contents = manifest(archive)
        trust = archive.read("certs/truststore.p12")
    assert sorted(names) == ["MANIFEST/manifest.xml", "certs/server.pref", "certs/truststore.p12"]
    assert sorted(contents) == ["certs/server.pref", "certs/truststore.p12"]
    streams, app = prefs["cot_streams"], prefs["com.atakmap.app_preferences"]
    assert streams["connectString0"][1] == "10.0.0.5:8089:ssl"
    assert streams["enrollForCertificateWithTrust0"] == ("class java.lang.Boolean", "true")
    assert streams["useAuth0"] == ("class java.lang.Boolean", "true")
    assert streams["caLocation0"][1] == app["caLocation"][1] == "cert/truststore.p12"
    assert streams["caPassword0"][1] == app["caPassword"][1] == password
    assert not any("certificateLocation" in key or "clientPassword" in key for key in {**streams, **app})
    assert (
        pkcs12.load_pkcs12(trust, password.encode()).additional_certs[0].certificate == authority.certificate
    )


def test_passwords_are_fresh_each_time() -> None:
    assert len({new_password() for _ in range(50)}) == 50


@pytest.mark.parametrize("name", ["../evil", "", ".hidden", "a/b"])
def test_unsafe_package_names_are_refused(tmp_path: Path, authority: CertificateAuthority, name: str) -> None:
    with pytest.raises(PkiError, match="invalid package name"):
        write_enrollment_package(tmp_path, name, host="h", tls_port=8089, authority=authority, password="pw")
