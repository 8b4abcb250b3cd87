"""Getting an access token for each auth flow the Salesforce connector supports.

We call the OAuth token endpoint ourselves rather than through simple-salesforce's login
helper: that helper builds the token URL as ``https://<domain>.salesforce.com``, which
cannot name a My Domain URL as given, nor the sandbox's Salesforce face on loopback.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import requests

from connectors.errors import AuthError, ConnectorError
from connectors.salesforce.config import SalesforceConfig

log = logging.getLogger(__name__)

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_ENV = "LEADLOOP_SALESFORCE__"


@dataclass(frozen=True, slots=True)
class Token:
    """An access token and the instance it is good for."""

    access_token: str
    instance_url: str


def can_renew(config: SalesforceConfig) -> bool:
    """True when the flow can get a fresh token by itself (all but a pasted session id)."""
    return config.auth != "session"


def fetch_token(config: SalesforceConfig, *, http: requests.Session) -> Token:
    """A fresh access token for the configured flow.

    Args:
        config: the Salesforce settings; ``config.auth`` picks the flow.
        http: the HTTP session to use (tests and the sandbox face inject theirs).

    Returns:
        The access token and its instance URL.

    Raises:
        AuthError: a credential is missing, or Salesforce refused it; the message names
            the flow and the setting to fix.
    """
    if config.auth == "jwt":
        return _jwt(config, http)
    if config.auth == "client_credentials":
        return _client_credentials(config, http)
    if config.auth == "password":
        return _password(config, http)
    return _session(config)


def _missing(flow: str, names: list[str]) -> AuthError:
    settings = ", ".join(f"{_ENV}{name}" for name in names)
    return AuthError(f"Salesforce {flow} flow: set {settings}")


def _jwt(config: SalesforceConfig, http: requests.Session) -> Token:
    creds = config.jwt
    missing = [n for n, v in (("JWT__CONSUMER_KEY", creds.consumer_key),
                              ("JWT__USERNAME", creds.username)) if not v]
    if creds.private_key is None and creds.private_key_file is None:
        missing.append("JWT__PRIVATE_KEY_FILE")
    if missing:
        raise _missing("JWT bearer", missing)
    if creds.private_key is not None:
        key = creds.private_key.get_secret_value()
    else:
        assert creds.private_key_file is not None
        try:
            key = creds.private_key_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise AuthError(
                f"Salesforce JWT bearer flow: cannot read the private key "
                f"{creds.private_key_file} ({exc.strerror}); set {_ENV}JWT__PRIVATE_KEY_FILE "
                "to the PEM file whose certificate the Connected App holds") from None
    import jwt  # PyJWT, a dependency of simple-salesforce; only this flow needs it

    # Salesforce wants the audience to be the login server, and at most 3 minutes of life.
    claims = {"iss": creds.consumer_key, "sub": creds.username,
              "aud": _audience(config.login_url), "exp": int(time.time()) + 180}
    try:
        assertion = jwt.encode(claims, key, algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise AuthError(f"Salesforce JWT bearer flow: the private key is not a PEM RSA key "
                        f"({exc}); check {_ENV}JWT__PRIVATE_KEY_FILE") from None
    return _token_call(config, http, "JWT bearer",
                       {"grant_type": JWT_GRANT, "assertion": assertion},
                       hint="check that the integration user is pre-authorised on the "
                            "Connected App and that the app holds this key's certificate")


def _audience(login_url: str) -> str:
    host = urlparse(login_url).hostname or ""
    if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
        return "https://test.salesforce.com"
    if host.endswith("salesforce.com"):
        return "https://login.salesforce.com"
    return login_url  # a stand-in server (the sandbox face) checks its own URL


def _client_credentials(config: SalesforceConfig, http: requests.Session) -> Token:
    creds = config.client_credentials
    missing = [n for n, v in (("CLIENT_CREDENTIALS__CONSUMER_KEY", creds.consumer_key),
                              ("CLIENT_CREDENTIALS__CONSUMER_SECRET", creds.consumer_secret))
               if not v]
    if missing:
        raise _missing("client credentials", missing)
    assert creds.consumer_secret is not None
    return _token_call(
        config, http, "client credentials",
        {"grant_type": "client_credentials", "client_id": creds.consumer_key,
         "client_secret": creds.consumer_secret.get_secret_value()},
        hint="enable the client credentials flow on the Connected App, give it a Run As "
             f"user, and set {_ENV}LOGIN_URL to your My Domain URL")


def _session(config: SalesforceConfig) -> Token:
    creds = config.session
    missing = [n for n, v in (("SESSION__SESSION_ID", creds.session_id),
                              ("SESSION__INSTANCE_URL", creds.instance_url)) if not v]
    if missing:
        raise _missing("session id", missing)
    assert creds.session_id is not None
    return Token(creds.session_id.get_secret_value(), creds.instance_url.rstrip("/"))


def _password(config: SalesforceConfig, http: requests.Session) -> Token:
    creds = config.password
    missing = [n for n, v in (("PASSWORD__USERNAME", creds.username),
                              ("PASSWORD__PASSWORD", creds.password),
                              ("PASSWORD__SECURITY_TOKEN", creds.security_token)) if not v]
    if missing:
        raise _missing("username-password", missing)
    log.warning("Salesforce username-password login uses the SOAP login() call, which "
                "Salesforce is retiring; switch to the JWT bearer flow (docs/salesforce.md)")
    from simple_salesforce.exceptions import SalesforceAuthenticationFailed
    from simple_salesforce.login import SalesforceLogin

    assert creds.password is not None and creds.security_token is not None
    host = urlparse(config.login_url).hostname or "login.salesforce.com"
    try:
        session_id, instance = SalesforceLogin(
            username=creds.username, password=creds.password.get_secret_value(),
            security_token=creds.security_token.get_secret_value(),
            domain=host.removesuffix(".salesforce.com"), session=http,
            sf_version=config.api_version)
    except SalesforceAuthenticationFailed as exc:
        raise AuthError(f"Salesforce username-password flow: login refused for "
                        f"{creds.username!r} ({exc.code}); check the password and the "
                        "security token, or switch to the JWT bearer flow") from None
    except requests.RequestException as exc:
        raise ConnectorError(f"Salesforce login at {host} failed: {exc}") from None
    return Token(session_id, f"https://{instance}")


def _token_call(config: SalesforceConfig, http: requests.Session, flow: str,
                form: dict[str, str], *, hint: str) -> Token:
    url = f"{config.login_url}/services/oauth2/token"
    try:
        response = http.post(url, data=form, timeout=config.timeout_s)
    except requests.RequestException as exc:
        raise ConnectorError(f"Salesforce {flow} login at {url} failed: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        error = body.get("error", f"HTTP {response.status_code}") if isinstance(body, dict) \
            else f"HTTP {response.status_code}"
        detail = body.get("error_description", "") if isinstance(body, dict) else ""
        raise AuthError(f"Salesforce {flow} login refused: {error}"
                        f"{f' ({detail})' if detail else ''}; {hint}")
    return Token(str(body["access_token"]), str(body["instance_url"]).rstrip("/"))
