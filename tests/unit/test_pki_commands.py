"""The admin commands run in-process through ``rallypoint.cli.main``: output, files, errors, audit."""

import io
import json
import stat
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from rallypoint.cli import main
from rallypoint.pki import admin
from rallypoint.pki.audit import verify_audit_log
from rallypoint.pki.identities import IdentityStore


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RALLYPOINT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RALLYPOINT_HOSTNAMES", "tak.example.org,10.0.0.5")
    return tmp_path / "data"


def run(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = "") -> tuple[int, str, str]:
    previous, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        code = main(list(argv))
    finally:
        sys.stdin = previous
    out, err = capsys.readouterr()
    return code, out, err


def kinds(data: Path) -> list[str]:
    return [json.loads(line)["kind"] for line in (data / "audit.log").read_text().splitlines()]


def test_user_commands(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(
            capsys,
            "user",
            "add",
            "alice",
            "--group",
            "blue",
            "--group",
            "red",
            "--role",
            "Medic",
            stdin="pw1\n",
        )[0]
        == 0
    )
    assert run(capsys, "user", "add", "bob", "--group", "red", stdin="pw2")[0] == 0
    code, out, _ = run(capsys, "user", "list")
    assert code == 0
    assert out.splitlines() == [
        "NAME   GROUPS    ROLE   STATUS",
        "alice  blue,red  Medic  enabled",
        "bob    red       -      enabled",
    ]
    assert run(capsys, "user", "passwd", "ALICE", stdin="pw3\n")[0] == 0
    assert run(capsys, "user", "disable", "bob")[0] == 0
    assert run(capsys, "user", "groups", "bob", "--group", "green")[0] == 0
    with IdentityStore(data / "identity.sqlite3") as store:
        assert store.authenticate("alice", "pw3") is not None
        assert store.authenticate("alice", "pw1") is None
        assert store.user("bob").disabled
        assert store.user("bob").groups == frozenset({"green"})
    assert run(capsys, "user", "enable", "bob")[0] == 0
    assert kinds(data) == [
        "user_added",
        "user_added",
        "user_changed",
        "user_changed",
        "user_changed",
        "user_changed",
    ]
    assert verify_audit_log(data / "audit.log").ok


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (("user", "add", "alice", "--group", "blue"), "\n", "must not be empty"),
        (("user", "add", "a:b", "--group", "blue"), "pw\n", "invalid user name"),
        (("user", "passwd", "ghost"), "pw\n", "no user named ghost"),
        (("cert", "issue", "ghost"), "", "no user named ghost"),
        (("cert", "revoke", "ghost"), "", "no user named ghost"),
        (("package", "ghost"), "", "no user named ghost"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    data: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], stdin: str, message: str
) -> None:
    code, _, err = run(capsys, *argv, stdin=stdin)
    assert code == 2
    assert err.startswith("rallypoint: ")
    assert message in err
    assert err.count("\n") == 1


def test_password_from_a_terminal_is_asked_twice(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter(["secret", "typo", "secret", "secret"])
    monkeypatch.setattr(admin.getpass, "getpass", lambda prompt: next(answers))
    monkeypatch.setattr(sys, "stdin", Terminal())
    assert main(["user", "add", "alice", "--group", "blue"]) == 2
    assert "differ" in capsys.readouterr().err
    assert main(["user", "add", "alice", "--group", "blue"]) == 0
    with IdentityStore(data / "identity.sqlite3") as store:
        assert store.authenticate("alice", "secret") is not None


def test_cert_issue_list_revoke(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "user", "add", "alice", "--group", "blue", stdin="pw\n")
    code, out, _ = run(capsys, "cert", "issue", "Alice", "--out", str(tmp_path), "--days", "10")
    assert code == 0
    lines = out.splitlines()
    serial = lines[0].split("serial ")[1].split(",")[0]
    password = lines[-1].split(": ")[1]
    assert lines[-1].startswith("PKCS#12 password (shown once): ")
    key_file, p12_file, pem_file = tmp_path / "alice.key", tmp_path / "alice.p12", tmp_path / "alice.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(p12_file.stat().st_mode) == 0o600
    certificate = x509.load_pem_x509_certificates(pem_file.read_bytes())[0]
    assert f"{certificate.serial_number:x}" == serial
    assert pkcs12.load_pkcs12(p12_file.read_bytes(), password.encode()).cert.certificate == certificate
    code, _, err = run(capsys, "cert", "issue", "alice", "--out", str(tmp_path))
    assert code == 2
    assert "not overwriting" in err

    code, out, _ = run(capsys, "cert", "list")
    assert out.splitlines()[0].split() == ["SERIAL", "USER", "NOT", "AFTER", "STATUS", "CLIENT", "UID"]
    assert out.splitlines()[1].split()[:2] == [serial, "alice"]
    assert out.splitlines()[1].split()[3] == "valid"

    code, out, _ = run(capsys, "cert", "revoke", "alice")
    assert code == 0
    assert f"revoked 1 certificate(s) of alice: {serial}" in out
    crl = x509.load_pem_x509_crl((data / "pki" / "crl.pem").read_bytes())
    assert [f"{entry.serial_number:x}" for entry in crl] == [serial]
    assert "revoked" in run(capsys, "cert", "list", "alice")[1].splitlines()[1]
    assert kinds(data) == ["user_added", "certificate_issued", "revocation"]


def test_disabled_users_get_no_certificates(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "user", "add", "alice", "--group", "blue", stdin="pw\n")
    run(capsys, "user", "disable", "alice")
    code, _, err = run(capsys, "cert", "issue", "alice", "--out", str(tmp_path))
    assert code == 2
    assert "disabled" in err


def test_packages(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "user", "add", "alice", "--group", "blue", stdin="pw\n")
    code, out, err = run(capsys, "package", "alice", "--out", str(tmp_path))
    assert code == 0
    assert err == ""
    assert out.splitlines()[0] == f"wrote {tmp_path / 'alice.zip'}"
    assert out.splitlines()[1].startswith("package password (shown once): ")
    with IdentityStore(data / "identity.sqlite3") as store:
        assert len(store.certificates("alice")) == 1
    code, out, err = run(
        capsys, "package", "field-team", "--enrollment", "--host", "rally.local", "--out", str(tmp_path)
    )
    assert code == 0
    assert "rally.local is not among the server certificate's names" in err
    assert (tmp_path / "field-team-enrollment.zip").exists()
    assert kinds(data) == ["user_added", "certificate_issued"]


def test_package_needs_the_tls_port(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RALLYPOINT_TLS_PORT", "none")
    code, _, err = run(capsys, "package", "x", "--enrollment")
    assert code == 2
    assert "tls_port" in err


def test_ca_init_and_config_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "site.toml"
    config.write_text(f'[rallypoint]\ndata_dir = "{tmp_path / "site"}"\nhostnames = "rally.local"\n')
    code, out, _ = run(capsys, "ca", "init", "--config", str(config))
    assert code == 0
    assert "server certificate for rally.local" in out
    first = (tmp_path / "site" / "pki" / "ca.pem").read_bytes()
    code, _, err = run(capsys, "ca", "init", "--config", str(config))
    assert code == 2
    assert "already exists" in err
    code, out, _ = run(capsys, "ca", "init", "--replace", "--config", str(config))
    assert code == 0
    assert "no longer work" in out
    assert (tmp_path / "site" / "pki" / "ca.pem").read_bytes() != first
    assert kinds(tmp_path / "site") == ["authority_created", "authority_created"]


def test_audit_verify(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "audit", "verify")
    assert (code, out) == (0, "audit log ok: 0 entries\n")
    run(capsys, "user", "add", "alice", "--group", "blue", stdin="pw\n")
    run(capsys, "user", "add", "bob", "--group", "blue", stdin="pw\n")
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0
    assert out.startswith("audit log ok: 2 entries, last hash ")
    log = data / "audit.log"
    log.write_text(log.read_text().replace('"user":"alice"', '"user":"mallory"'))
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 1
    assert out.startswith("audit log TAMPERED at line 1: ")
    assert out.count("\n") == 1
