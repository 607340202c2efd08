"""The identity commands as an operator runs them: separate processes on one data directory."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12


def rallypoint(cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RALLYPOINT_")}
    env["RALLYPOINT_DATA_DIR"] = str(cwd / "data")
    return subprocess.run(
        [sys.executable, "-m", "rallypoint", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_enrol_issue_revoke_package_and_audit(tmp_path: Path) -> None:
    ok(rallypoint(tmp_path, "user", "add", "alice", "--group", "blue", "--group", "red", stdin="s3cret\n"))
    assert "alice  blue,red  -     enabled" in ok(rallypoint(tmp_path, "user", "list"))

    issued = ok(rallypoint(tmp_path, "cert", "issue", "alice", "--out", str(tmp_path)))
    password = issued.splitlines()[-1].split(": ", 1)[1]
    certificate = x509.load_pem_x509_certificates((tmp_path / "alice.pem").read_bytes())[0]
    assert pkcs12.load_pkcs12((tmp_path / "alice.p12").read_bytes(), password.encode()).cert is not None
    serial = f"{certificate.serial_number:x}"
    assert serial in ok(rallypoint(tmp_path, "cert", "list"))

    packaged = ok(rallypoint(tmp_path, "package", "alice", "--out", str(tmp_path))).splitlines()
    package = Path(packaged[0].removeprefix("wrote "))
    package_password = packaged[1].split(": ", 1)[1]
    with zipfile.ZipFile(package) as archive:
        assert package_password in archive.read("certs/server.pref").decode()
        identity = pkcs12.load_pkcs12(archive.read("certs/alice.p12"), package_password.encode())
    assert identity.cert is not None
    ok(rallypoint(tmp_path, "package", "alice", "--enrollment", "--out", str(tmp_path)))

    revoked = ok(rallypoint(tmp_path, "cert", "revoke", "alice"))
    assert "revoked 2 certificate(s) of alice" in revoked
    crl = x509.load_pem_x509_crl((tmp_path / "data" / "pki" / "crl.pem").read_bytes())
    assert {entry.serial_number for entry in crl} >= {certificate.serial_number}
    assert ok(rallypoint(tmp_path, "cert", "list", "alice")).count("revoked") == 2

    verified = ok(rallypoint(tmp_path, "audit", "verify"))
    assert verified.startswith("audit log ok: 4 entries")

    log = tmp_path / "data" / "audit.log"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text(lines[0] + lines[2] + lines[1] + "".join(lines[3:]))
    tampered = rallypoint(tmp_path, "audit", "verify")
    assert tampered.returncode == 1
    assert tampered.stdout.startswith("audit log TAMPERED at line 2")


def test_errors_are_one_line_with_exit_code_2(tmp_path: Path) -> None:
    result = rallypoint(tmp_path, "cert", "issue", "nobody")
    assert result.returncode == 2
    assert result.stderr.startswith("rallypoint: no user named nobody")
    assert "Traceback" not in result.stderr
    empty = rallypoint(tmp_path, "user", "add", "alice", "--group", "blue", stdin="")
    assert empty.returncode == 2
    assert "empty" in empty.stderr
