"""TAK Server's certificate admin API (``/Marti/api/certadmin/cert…``) over the identity store.

The certificates listed are the client certificates this server's CA issued and recorded
(:class:`~rallypoint.pki.identities.IdentityStore`), in TAK's ``TakCert`` shape: ``id`` (the
record's row number), ``hash`` (SHA-256 of the DER certificate), subject, issuer, dates, the
PEM and the serial. As in TAK Server only an administrator (a member of the ``admin`` group)
may call any of it: everyone else gets 403, and no listing is filtered instead.

Revoking (``DELETE cert/{hash}``, ``DELETE cert/revoke/{ids}``) does what ``rallypoint cert
revoke`` does: it marks the certificate revoked in the store, rewrites the CRL and audits who
did it. The store's revision changes with it, so the server's identity watch closes the
connections and web sessions that used the certificate, as after the command.

Not served: ``cert/delete/{ids}`` (a record must outlive its certificate, or it could no longer
be refused) and ``cert/download/{ids}`` (a zip of several; one certificate downloads as PEM).
"""

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.cot.timefmt import format_time
from rallypoint.http.common.deps import ApiDeps, Caller, caller_of, envelope, require_admin
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.certificate_records import CertificateRecord, IssuedCertificate
from rallypoint.pki.identities import IdentityStore

log = logging.getLogger(__name__)

TAK_CERT_TYPE = "com.bbn.marti.remote.TakCert"
HASH = re.compile(r"[0-9a-fA-F]{64}")
"""A certificate's SHA-256, as TAK Server names certificates in paths."""
MAX_IDS = 100
"""Certificates one revocation request may name."""

Audit = Callable[..., None]


def _millis(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _tak_cert(issued: IssuedCertificate) -> dict[str, Any]:
    """One certificate as TAK's ``TakCert`` (``revocationDate`` only once revoked, as TAK omits nulls)."""
    record = issued.record
    subject = issuer = f"CN={record.user}"
    pem = ""
    if issued.der is not None:
        certificate = x509.load_der_x509_certificate(issued.der)
        subject, issuer = certificate.subject.rfc4514_string(), certificate.issuer.rfc4514_string()
        pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    row: dict[str, Any] = {
        "id": issued.id,
        "creatorDn": issuer,
        "subjectDn": subject,
        "userDn": subject,
        "certificate": pem,
        "hash": record.fingerprint,
        "clientUid": record.client_uid or "",
        "issuanceDate": format_time(_millis(record.not_before)),
        "expirationDate": format_time(_millis(record.not_after)),
        "effectiveDate": format_time(_millis(record.not_before)),
        "token": "",
        "serialNumber": f"{record.serial:x}",
    }
    if record.revoked_at is not None:
        row["revocationDate"] = format_time(_millis(record.revoked_at))
    return row


def _replaced(rows: list[IssuedCertificate]) -> list[IssuedCertificate]:
    """Certificates a later one of the same user and device superseded (TAK's "replaced")."""
    latest: dict[tuple[str, str], datetime] = {}
    for issued in rows:
        record = issued.record
        if record.client_uid:
            key = (record.user.casefold(), record.client_uid)
            latest[key] = max(latest.get(key, record.not_before), record.not_before)
    return [
        issued
        for issued in rows
        if issued.record.client_uid
        and issued.record.not_before < latest[(issued.record.user.casefold(), issued.record.client_uid)]
    ]


class CertificateAdmin:
    """The handlers; every one refuses non-administrators first."""

    def __init__(
        self,
        deps: ApiDeps,
        identities: IdentityStore,
        authority: CertificateAuthority,
        audit: Audit,
        now: Callable[[], datetime],
    ) -> None:
        self.deps = deps
        self.identities = identities
        self.authority = authority
        self.audit = audit
        self.now = now

    def _admin(self, request: Request, what: str) -> Caller:
        caller = caller_of(request)
        require_admin(caller, what)
        return caller

    def _answer(self, data: Any) -> Response:
        return JSONResponse(envelope(TAK_CERT_TYPE, data, self.deps.settings.server_id))

    async def _issued(self) -> list[IssuedCertificate]:
        return await asyncio.to_thread(self.identities.issued)

    async def _by_hash(self, request: Request) -> IssuedCertificate:
        digest = request.path_params["hash"]
        if not HASH.fullmatch(digest):
            raise HTTPException(400, "a certificate hash is 64 hexadecimal digits (SHA-256)")
        found = next((c for c in await self._issued() if c.record.fingerprint == digest.lower()), None)
        if found is None:
            raise HTTPException(404, f"no certificate {digest}")
        return found

    async def all(self, request: Request) -> Response:
        self._admin(request, "list certificates")
        rows = await self._issued()
        username = request.query_params.get("username")
        if username:
            rows = [c for c in rows if c.record.user.casefold() == username.casefold()]
        return self._answer([_tak_cert(c) for c in rows])

    async def active(self, request: Request) -> Response:
        self._admin(request, "list certificates")
        now = self.now()
        rows = [c for c in await self._issued() if c.record.revoked_at is None and c.record.not_after > now]
        return self._answer([_tak_cert(c) for c in rows])

    async def expired(self, request: Request) -> Response:
        self._admin(request, "list certificates")
        now = self.now()
        return self._answer([_tak_cert(c) for c in await self._issued() if c.record.not_after <= now])

    async def revoked(self, request: Request) -> Response:
        self._admin(request, "list certificates")
        rows = [c for c in await self._issued() if c.record.revoked_at is not None]
        return self._answer([_tak_cert(c) for c in rows])

    async def replaced(self, request: Request) -> Response:
        self._admin(request, "list certificates")
        return self._answer([_tak_cert(c) for c in _replaced(await self._issued())])

    async def one(self, request: Request) -> Response:
        self._admin(request, "read a certificate")
        return self._answer(_tak_cert(await self._by_hash(request)))

    async def download(self, request: Request) -> Response:
        self._admin(request, "download a certificate")
        issued = await self._by_hash(request)
        if issued.der is None:
            raise HTTPException(404, "this certificate was recorded before certificates were kept")
        pem = x509.load_der_x509_certificate(issued.der).public_bytes(serialization.Encoding.PEM)
        name = f"{issued.record.user}-{issued.record.serial:x}.pem"
        return Response(
            pem,
            media_type="application/x-pem-file",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    async def revoke_one(self, request: Request) -> Response:
        caller = self._admin(request, "revoke a certificate")
        issued = await self._by_hash(request)
        revoked = await self._revoke(caller, [issued.record])
        return self._answer(len(revoked) == 1)

    async def revoke_ids(self, request: Request) -> Response:
        caller = self._admin(request, "revoke certificates")
        parts = request.path_params["ids"].split(",")
        if len(parts) > MAX_IDS or not all(part.strip().isdigit() for part in parts):
            raise HTTPException(400, f"ids are up to {MAX_IDS} comma-separated certificate ids")
        wanted = {int(part) for part in parts}
        rows = [c.record for c in await self._issued() if c.id in wanted]
        if len(rows) != len(wanted):
            raise HTTPException(404, "no certificate with one of these ids")
        revoked = await self._revoke(caller, rows)
        return self._answer(len(revoked))

    async def _revoke(self, caller: Caller, records: list[CertificateRecord]) -> list[CertificateRecord]:
        """Revoke as ``rallypoint cert revoke`` does: the store, then the CRL, then the audit."""
        now = self.now()

        def withdraw() -> list[CertificateRecord]:
            done = [r for r in (self.identities.revoke_certificate(x.serial, now) for x in records) if r]
            self.authority.write_crl(self.identities.revoked(), now)
            return done

        done = await asyncio.to_thread(withdraw)
        for record in done:
            self.audit(
                "revocation",
                user=record.user,
                serials=f"{record.serial:x}",
                count=1,
                via="marti",
                by=caller.name,
            )
            log.info("certadmin: %s revoked certificate %x of %s", caller.name, record.serial, record.user)
        return done


def certadmin_routes(
    deps: ApiDeps,
    identities: IdentityStore,
    authority: CertificateAuthority,
    audit: Audit,
    now: Callable[[], datetime],
) -> list[BaseRoute]:
    """The certificate admin routes; the fixed listings before ``cert/{hash}``."""
    admin = CertificateAdmin(deps, identities, authority, audit, now)
    base = "/Marti/api/certadmin/cert"
    return [
        Route(base, admin.all, methods=["GET"]),
        Route(f"{base}/active", admin.active, methods=["GET"]),
        Route(f"{base}/expired", admin.expired, methods=["GET"]),
        Route(f"{base}/revoked", admin.revoked, methods=["GET"]),
        Route(f"{base}/replaced", admin.replaced, methods=["GET"]),
        Route(f"{base}/revoke/{{ids}}", admin.revoke_ids, methods=["DELETE"]),
        Route(f"{base}/{{hash}}/download", admin.download, methods=["GET"]),
        Route(f"{base}/{{hash}}", admin.one, methods=["GET"]),
        Route(f"{base}/{{hash}}", admin.revoke_one, methods=["DELETE"]),
    ]
