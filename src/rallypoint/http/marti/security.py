"""TAK Server's security and authentication settings API, answered with what is true here.

- ``GET /Marti/api/security/config``: TAK's ``SecurityConfigInfo``. TLS 1.2 at least on every
  TLS port; groups come from the identity store of the certificate's user (``x509Groups``); a
  certificate never adds ``__ANON__``; enrollment is on when its port is; the CA is this
  server's own (``TAKServer``). Key and trust material are PEM files in the data directory,
  named relative to it. TAK answers its keystore passwords here; Rallypoint keeps no keystore
  password and answers none (empty strings), nor any path outside the data directory.
- ``GET /Marti/api/authentication/config``: TAK's ``AuthenticationConfigInfo`` describes an
  LDAP directory. Users are in the identity store and no directory is configured, so every
  field is empty (``url`` "" says there is none) and no service credential is ever sent.
- ``GET /Marti/api/security/isSecure``: ``"true"`` when no plain-text listener is on, or, as
  TAK Server, the list of the configured plain ports (``[8087, 8080]``).
- ``GET /Marti/api/security/verifyConfig``: ``"true"`` when the server certificate, its key
  and the CA certificate exist, else 400 naming what is missing, as TAK checks its keystores.

As in TAK Server these describe the server to its operators only: every call is refused (403)
to anyone who is not an administrator (a member of the ``admin`` group). Changing the settings
(TAK's ``PUT``) is not served: they come from the settings file, read at start.
"""

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.config import Settings
from rallypoint.http.common.deps import ApiDeps, caller_of, envelope, require_admin
from rallypoint.pki.paths import pki_paths

SECURITY_CONFIG_TYPE = "com.bbn.marti.remote.SecurityConfigInfo"
AUTH_CONFIG_TYPE = "com.bbn.marti.remote.AuthenticationConfigInfo"
TLS_VERSION = "TLSv1.2"
"""The lowest protocol version every TLS port of this server accepts."""


def security_config(settings: Settings) -> dict[str, Any]:
    """TAK's ``SecurityConfigInfo`` of this server (no secret: passwords are empty)."""
    return {
        "keystoreFile": "pki/server.pem",
        "truststoreFile": "pki/ca.pem",
        "keystorePass": "",
        "truststorePass": "",
        "tlsVersion": TLS_VERSION,
        "x509Groups": True,
        "x509addAnon": False,
        "enableEnrollment": settings.enrollment_port is not None,
        "caType": "TAKServer",
        "signingKeystoreFile": "pki/ca.pem",
        "signingKeystorePass": "",
        "validityDays": settings.certificate_validity_days,
        "mscaUserName": None,
        "mscaPassword": None,
        "mscaTruststore": None,
        "mscaTruststorePass": None,
        "mscaTemplateName": None,
    }


AUTH_CONFIG: dict[str, Any] = {
    "url": "",
    "userString": "",
    "updateInterval": 0,
    "groupPrefix": "",
    "serviceAccountDN": "",
    "serviceAccountCredential": "",
    "groupBaseRDN": "",
}
"""No LDAP directory: the identity store holds users and groups."""


def plain_ports(settings: Settings) -> list[int]:
    """The configured listeners that carry data without TLS, in TAK's "non-secure ports" sense."""
    ports = [settings.tcp_port, settings.udp_port, settings.api_plain_port]
    if not settings.web_tls:
        ports.append(settings.web_port)
    if settings.multicast_enabled:
        ports.append(settings.multicast_port)
    return [port for port in ports if port is not None]


def is_secure(settings: Settings) -> str:
    """``"true"``, or the plain ports as Java prints a collection (``[8087, 8080]``)."""
    ports = plain_ports(settings)
    return "true" if not ports else "[" + ", ".join(str(port) for port in ports) + "]"


def missing_material(settings: Settings) -> list[str]:
    """Which of the files the TLS ports need are absent (relative to the data directory)."""
    paths = pki_paths(settings.data_dir)
    needed = {
        "pki/server.pem": paths.server_cert,
        "pki/server.key": paths.server_key,
        "pki/ca.pem": paths.ca_cert,
    }
    return [name for name, path in needed.items() if not path.is_file()]


def security_routes(deps: ApiDeps) -> list[BaseRoute]:
    """The four read-only calls of TAK's security-authentication API, administrators only."""
    settings, node = deps.settings, deps.settings.server_id

    def admin(request: Request) -> None:
        require_admin(caller_of(request), "read the server's security settings")

    async def config(request: Request) -> Response:
        admin(request)
        return JSONResponse(envelope(SECURITY_CONFIG_TYPE, security_config(settings), node))

    async def authentication(request: Request) -> Response:
        admin(request)
        return JSONResponse(envelope(AUTH_CONFIG_TYPE, AUTH_CONFIG, node))

    async def secure(request: Request) -> Response:
        admin(request)
        return JSONResponse(envelope("isSecure?", is_secure(settings), node))

    async def verify(request: Request) -> Response:
        admin(request)
        missing = missing_material(settings)
        if missing:
            raise HTTPException(400, f"Failed to verify config - missing {', '.join(missing)}")
        return JSONResponse(envelope("verifyConfig?", "true", node))

    return [
        Route("/Marti/api/security/config", config, methods=["GET"]),
        Route("/Marti/api/authentication/config", authentication, methods=["GET"]),
        Route("/Marti/api/security/isSecure", secure, methods=["GET"]),
        Route("/Marti/api/security/verifyConfig", verify, methods=["GET"]),
    ]
