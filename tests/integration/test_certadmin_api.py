"""Hostile requests to TAK's certificate admin and security settings APIs (httpx): anonymous
callers on the plain port, malformed ids and hashes, and revoking twice."""

from tests.conftest import PkiFixture, RunningServer
from tests.integration.test_marti_api import https, plain, tls_settings

__all__ = ["tls_settings"]
BASE = "/Marti/api/certadmin/cert"


async def test_anonymous_and_malformed_requests_are_refused(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    admin, bob = pki.add_user("root", "admin"), pki.add_user("bob", "ops")
    async with https(tls_server, pki, admin) as root, plain(tls_server) as anonymous:
        rows = (await root.get(BASE)).json()["data"]
        bob_row = next(row for row in rows if row["serialNumber"] == f"{bob.serial:x}")
        refused = [
            (await anonymous.get(BASE)).status_code,
            (await anonymous.get(f"{BASE}/{bob_row['hash']}/download")).status_code,
            (await anonymous.delete(f"{BASE}/{bob_row['hash']}")).status_code,
            (await anonymous.delete(f"{BASE}/revoke/{bob_row['id']}")).status_code,
            (await anonymous.get("/Marti/api/security/config")).status_code,
            (await anonymous.get("/Marti/api/authentication/config")).status_code,
        ]
        malformed = [
            (await root.delete(f"{BASE}/revoke/1,x")).status_code,
            (await root.delete(f"{BASE}/revoke/{','.join(['1'] * 101)}")).status_code,
            (await root.delete(f"{BASE}/revoke/-1")).status_code,
            (await root.delete(f"{BASE}/revoke/999999")).status_code,
            (await root.delete(f"{BASE}/{'g' * 64}")).status_code,
            (await root.get(f"{BASE}/{'a' * 63}/download")).status_code,
            (await root.delete(f"{BASE}/delete/{bob_row['id']}")).status_code,
        ]
        first = await root.delete(f"{BASE}/{bob_row['hash']}")
        again = await root.delete(f"{BASE}/{bob_row['hash']}")
        by_id = await root.delete(f"{BASE}/revoke/{bob_row['id']}")
    assert refused == [403] * len(refused)
    assert malformed == [400, 400, 400, 404, 400, 400, 404]
    assert first.json()["data"] is True
    assert again.json()["data"] is False, "already revoked"
    assert by_id.json()["data"] == 0
    assert pki.store.certificate(bob.serial).revoked_at is not None
    assert pki.store.certificate(admin.serial).revoked_at is None
