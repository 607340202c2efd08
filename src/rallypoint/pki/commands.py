"""``rallypoint ca|cert|user|package|audit``: the administrator's command line for identities.

Every command works on ``settings.data_dir`` (``--config``, ``--data-dir`` and the environment,
as for ``rallypoint serve``) and creates the CA there on first use, exactly as the server would,
so the order in which an operator runs things does not matter. The commands may run while the
server does: the identity store and the audit log are safe to share between processes, and the
server picks up every change by itself (a new certificate at its first handshake; revocations,
disabled users and new groups within a poll of its identity watch).
Every change to identities is written to the audit log (with ``fsync``: these are rare).
Secrets (keystore passwords) are printed once and stored nowhere.
"""

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rallypoint.config import Settings
from rallypoint.errors import PkiError
from rallypoint.pki.admin import Admin, certificate_pem, existing_user, read_password, refuse_existing
from rallypoint.pki.audit import verify_audit_log
from rallypoint.pki.authority import CertificateAuthority, private_pem
from rallypoint.pki.certificate_records import CertificateRecord
from rallypoint.pki.files import PRIVATE, PUBLIC, write_atomic
from rallypoint.pki.keystores import client_keystore, new_password
from rallypoint.pki.package import write_connection_package, write_enrollment_package
from rallypoint.pki.paths import audit_path
from rallypoint.pki.qr import TAK_ENROLLMENT_PORT, TAK_STREAMING_PORT, enrollment_link, write_enrollment_qr

PKI_COMMANDS = frozenset({"ca", "cert", "user", "package", "audit"})
"""Top-level command names handled by :func:`run_pki_command`."""

Handler = Callable[[Admin, argparse.Namespace], int]


def add_pki_parsers(commands: Any) -> None:
    """Register the identity commands on the top-level parser's sub-command action."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", type=Path, help="TOML settings file (default ./rallypoint.toml if present)"
    )
    common.add_argument("--data-dir", type=Path, help="the server's data directory (setting data_dir)")

    def leaf(group: Any, name: str, handler: Handler, text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = group.add_parser(
            name, parents=[common], help=text, description=text
        )
        parser.set_defaults(pki_handler=handler)
        return parser

    def branch(name: str, text: str) -> Any:
        return commands.add_parser(name, help=text).add_subparsers(dest="action", required=True)

    ca = branch("ca", "the certificate authority")
    leaf(ca, "init", _ca_init, "create the CA and the server certificate").add_argument(
        "--replace", action="store_true", help="replace an existing CA (its certificates stop working)"
    )
    cert = branch("cert", "client certificates")
    issue = leaf(cert, "issue", _cert_issue, "issue a certificate to user NAME: NAME.pem, NAME.key, NAME.p12")
    issue.add_argument("name")
    issue.add_argument("--out", type=Path, default=Path(), help="directory for the files (default: .)")
    issue.add_argument("--days", type=int, help="validity (default: setting certificate_validity_days)")
    leaf(cert, "revoke", _cert_revoke, "revoke every certificate of user NAME").add_argument("name")
    leaf(cert, "list", _cert_list, "list issued certificates (of NAME only if given)").add_argument(
        "name", nargs="?"
    )
    user = branch("user", "users and groups")
    add = leaf(user, "add", _user_add, "add user NAME (password from the terminal, or one line of stdin)")
    add.add_argument("name")
    add.add_argument("--group", action="append", required=True, help="a group of NAME (repeatable)")
    add.add_argument("--role", help="role shown to others, e.g. 'Team Lead'")
    leaf(user, "passwd", _user_passwd, "set user NAME's password").add_argument("name")
    leaf(user, "disable", _user_disable, "stop user NAME logging in and enrolling").add_argument("name")
    leaf(user, "enable", _user_enable, "allow a disabled user again").add_argument("name")
    groups = leaf(user, "groups", _user_groups, "replace user NAME's groups")
    groups.add_argument("name")
    groups.add_argument("--group", action="append", required=True, help="a group of NAME (repeatable)")
    leaf(user, "list", _user_list, "list users")
    package = leaf(commands, "package", _package, "write the data package a TAK client imports to connect")
    package.add_argument("name", help="the user (with --enrollment: only the package's name)")
    package.add_argument("--enrollment", action="store_true", help="no certificate: the user enrolls instead")
    package.add_argument("--host", help="address clients connect to (default: first of setting hostnames)")
    package.add_argument("--out", type=Path, default=Path(), help="directory for the zip (default: .)")
    package.add_argument(
        "--qr",
        action="store_true",
        help="instead of a zip: a QR code ATAK/iTAK scan to enroll as NAME (asks NAME's password)",
    )
    leaf(branch("audit", "the audit log"), "verify", _audit_verify, "check the audit log's hash chain")


def run_pki_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run the parsed command; the exit code (PkiError propagates to the caller)."""
    handler: Handler = args.pki_handler
    return handler(Admin(settings, datetime.now(UTC)), args)


def _ca_init(admin: Admin, args: argparse.Namespace) -> int:
    settings = admin.settings
    authority = CertificateAuthority.initialise(
        settings.data_dir, settings.hostname_list, admin.now, replace=args.replace
    )
    subject = authority.certificate.subject.rfc4514_string()
    admin.audit.append("authority_created", admin.now, subject=subject, replaced=int(args.replace))
    print(f"certificate authority {subject} in {authority.paths.directory}")
    print(f"server certificate for {', '.join(settings.hostname_list)}: {authority.paths.server_cert}")
    if args.replace:
        print("certificates of the previous authority no longer work; issue new ones or new packages")
    return 0


def _cert_issue(admin: Admin, args: argparse.Namespace) -> int:
    days = args.days if args.days is not None else admin.settings.certificate_validity_days
    with admin.store() as store:
        name = existing_user(store, args.name).name
        files = [args.out / f"{name}{suffix}" for suffix in (".pem", ".key", ".p12")]
        refuse_existing(files)
        authority, certificate, key, record = admin.issue(store, name, days, via="cert issue")
    password = new_password()
    write_atomic(files[0], certificate_pem(certificate) + certificate_pem(authority.certificate), PUBLIC)
    write_atomic(files[1], private_pem(key), PRIVATE)
    write_atomic(files[2], client_keystore(name, certificate, key, authority.certificate, password), PRIVATE)
    print(f"certificate for {name}: serial {record.serial:x}, valid until {_date(record.not_after)}")
    print(f"wrote {', '.join(str(path) for path in files)}")
    print(f"PKCS#12 password (shown once): {password}")
    return 0


def _cert_revoke(admin: Admin, args: argparse.Namespace) -> int:
    with admin.store() as store:
        name = existing_user(store, args.name).name
        records = store.revoke(name, admin.now)
        revoked = store.revoked()
    authority = admin.authority()
    authority.write_crl(revoked, admin.now)
    serials = ",".join(f"{record.serial:x}" for record in records)
    admin.audit.append("revocation", admin.now, user=name, serials=serials, count=len(records))
    print(f"revoked {len(records)} certificate(s) of {name}{': ' + serials if serials else ''}")
    print(f"{authority.paths.crl} lists {len(revoked)} revoked certificate(s)")
    print(f"to stop {name} enrolling again: rallypoint user disable {name}")
    return 0


def _cert_list(admin: Admin, args: argparse.Namespace) -> int:
    with admin.store() as store:
        if args.name is not None:
            existing_user(store, args.name)
        records = store.certificates(args.name)
    rows = [("SERIAL", "USER", "NOT AFTER", "STATUS", "CLIENT UID")]
    rows += [
        (f"{r.serial:x}", r.user, _date(r.not_after), _status(r, admin.now), r.client_uid or "-")
        for r in records
    ]
    _table(rows)
    return 0


def _user_add(admin: Admin, args: argparse.Namespace) -> int:
    password = read_password(sys.stdin)
    with admin.store() as store:
        user = store.add_user(args.name, password, args.group, args.role)
    groups = ",".join(sorted(user.groups))
    admin.audit.append("user_added", admin.now, user=user.name, groups=groups, role=user.role)
    print(f"added user {user.name} (groups {groups}; role {user.role or '-'})")
    return 0


def _user_passwd(admin: Admin, args: argparse.Namespace) -> int:
    with admin.store() as store:
        name = existing_user(store, args.name).name
        store.set_password(name, read_password(sys.stdin))
    admin.audit.append("user_changed", admin.now, user=name, change="password")
    print(f"password of {name} changed")
    return 0


def _user_disable(admin: Admin, args: argparse.Namespace) -> int:
    return _set_disabled(admin, args.name, disabled=True)


def _user_enable(admin: Admin, args: argparse.Namespace) -> int:
    return _set_disabled(admin, args.name, disabled=False)


def _set_disabled(admin: Admin, name: str, *, disabled: bool) -> int:
    state = "disabled" if disabled else "enabled"
    with admin.store() as store:
        name = existing_user(store, name).name
        store.set_disabled(name, disabled)
    admin.audit.append("user_changed", admin.now, user=name, change=state)
    print(f"{name} {state}")
    if disabled:
        print(f"certificates stay valid until revoked: rallypoint cert revoke {name}")
    return 0


def _user_groups(admin: Admin, args: argparse.Namespace) -> int:
    with admin.store() as store:
        name = existing_user(store, args.name).name
        store.set_groups(name, args.group)
    groups = ",".join(sorted(set(args.group)))
    admin.audit.append("user_changed", admin.now, user=name, change="groups", groups=groups)
    print(f"groups of {name}: {groups}")
    return 0


def _user_list(admin: Admin, args: argparse.Namespace) -> int:
    with admin.store() as store:
        users = store.users()
    rows = [("NAME", "GROUPS", "ROLE", "STATUS")]
    rows += [
        (u.name, ",".join(sorted(u.groups)) or "-", u.role or "-", "disabled" if u.disabled else "enabled")
        for u in users
    ]
    _table(rows)
    return 0


def _package(admin: Admin, args: argparse.Namespace) -> int:
    settings = admin.settings
    if settings.tls_port is None:
        raise PkiError("TLS streaming is off (setting tls_port), so there is nothing to connect to")
    host = args.host or next(iter(settings.hostname_list), None)
    if host is None:
        raise PkiError("no address for clients: give --host or set hostnames")
    if host not in settings.hostname_list:
        print(
            f"warning: {host} is not among the server certificate's names ({settings.hostnames})",
            file=sys.stderr,
        )
    if args.qr:
        return _package_qr(admin, args, host)
    password = new_password()
    if args.enrollment:
        authority = admin.authority()
        path = write_enrollment_package(
            args.out,
            f"{args.name}-enrollment",
            host=host,
            tls_port=settings.tls_port,
            authority=authority,
            password=password,
        )
    else:
        with admin.store() as store:
            name = existing_user(store, args.name).name
            refuse_existing([args.out / f"{name}.zip"])
            days = settings.certificate_validity_days
            authority, certificate, key, _ = admin.issue(store, name, days, via="package")
        path = write_connection_package(
            args.out,
            name,
            host=host,
            tls_port=settings.tls_port,
            authority=authority,
            certificate=certificate,
            key=key,
            password=password,
        )
    print(f"wrote {path}")
    print(f"package password (shown once): {password}")
    return 0


def _package_qr(admin: Admin, args: argparse.Namespace, host: str) -> int:
    """Print and write (``NAME-enroll.png``) the enrollment QR code of user NAME, whose password
    is checked first: a code with a wrong password would only fail on the device."""
    settings = admin.settings
    if settings.enrollment_port is None:
        raise PkiError("enrollment is off (setting enrollment_port), so a QR code has nothing to enroll on")
    for setting, port, expected in (
        ("enrollment_port", settings.enrollment_port, TAK_ENROLLMENT_PORT),
        ("tls_port", settings.tls_port, TAK_STREAMING_PORT),
    ):
        if port != expected:
            print(f"warning: {setting} is {port}; clients that scan the code use {expected}", file=sys.stderr)
    password = read_password(sys.stdin)
    with admin.store() as store:
        name = existing_user(store, args.name).name
        if store.authenticate(name, password) is None:
            raise PkiError(f"wrong password for {name}, or {name} is disabled")
    png = args.out / f"{name}-enroll.png"
    refuse_existing([png])
    print(write_enrollment_qr(enrollment_link(host, name, password), png), end="")
    admin.audit.append("enrollment_qr_written", admin.now, user=name)
    print(f"wrote {png} (it holds {name}'s password: hand it over, then delete it)")
    return 0


def _audit_verify(admin: Admin, args: argparse.Namespace) -> int:
    report = verify_audit_log(audit_path(admin.settings.data_dir))
    if report.ok:
        last = f", last hash {report.last_hash}" if report.last_hash else ""
        print(f"audit log ok: {report.entries} entries{last}")
        return 0
    intact = f"{report.entries} entries before it intact"
    print(f"audit log TAMPERED at line {report.line}: {report.problem} ({intact})")
    return 1


def _status(record: CertificateRecord, now: datetime) -> str:
    if record.revoked_at is not None:
        return f"revoked {_date(record.revoked_at)}"
    return "expired" if record.not_after <= now else "valid"


def _date(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
