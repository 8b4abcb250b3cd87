"""The HTTP side of the HubSpot connector: hubspot-api-client, paced, retried and guarded.

Every call goes through :meth:`HubSpotTransport.call`, which
- waits for the client-side limits (burst per 10 s, and search per second), so 429s
  are rare rather than routine; with a Redis URL the limits are counted in Redis, so
  every worker on it together stays under HubSpot's (:mod:`connectors.limits`);
- lets urllib3 retry 429 and 5xx for every method (its default ``Retry`` skips POST and
  PATCH, and nearly every HubSpot write is a POST), honouring ``Retry-After``;
- keeps the daily budget: it reads ``X-HubSpot-RateLimit-Daily-Remaining`` and stops
  before leadloop eats into the share of the day other apps need;
- refreshes an OAuth access token when it is about to expire or is refused;
- turns HubSpot's errors into :mod:`connectors.errors` with one clear line.

Responses are read as plain JSON (``_preload_content=False``): the generated models cost
more than the network for a 50,000-contact sync, and the connector needs only dicts.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import hubspot
import urllib3
from urllib3.util.retry import Retry

from connectors.errors import AuthError, ConnectorError, RateLimitedError
from connectors.hubspot.config import (
    REQUIRED_SCOPES,
    HubSpotConfig,
    OAuthCredentials,
    PrivateAppCredentials,
)
from connectors.limits import CallLimit, account_key, open_storage

RETRY_STATUSES = (429, 500, 502, 503, 504)
_REFRESH_MARGIN_S = 60.0
_WINDOW_MARGIN = 1.03


@dataclass
class CallStats:
    """What this connector asked of HubSpot: calls started and calls that ended in 429."""

    calls: int = 0
    rate_limited: int = 0


class HubSpotError(ConnectorError):
    """HubSpot answered with an error we pass on; ``status`` and ``body`` are HubSpot's."""

    code = "hubspot"

    def __init__(self, message: str, *, status: int, body: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def _api_exception_types() -> tuple[type[Exception], ...]:
    """Each generated package has its own ApiException class; these are the ones we use."""
    from hubspot.crm.contacts.exceptions import ApiException as Contacts
    from hubspot.crm.objects.emails.exceptions import ApiException as Emails
    from hubspot.crm.objects.tasks.exceptions import ApiException as Tasks
    from hubspot.crm.owners.exceptions import ApiException as Owners
    from hubspot.crm.properties.exceptions import ApiException as Properties
    from hubspot.oauth.exceptions import ApiException as OAuth

    return (Contacts, Emails, Tasks, Owners, Properties, OAuth)


class HubSpotTransport:
    """hubspot-api-client's APIs for the objects leadloop uses, behind one guarded call.

    Args:
        config: the HubSpot settings.
        clock: wall-clock seconds, for token expiry (tests inject one).
        sleep: how the limiters wait.
        limits_url: where the rate limits are counted: a Redis URL shared by every worker,
            or None for this process's memory.
        limits_prefix: the key prefix in that Redis.
    """

    def __init__(self, config: HubSpotConfig, *, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, limits_url: str | None = None,
                 limits_prefix: str = "leadloop") -> None:
        self.config = config
        self.credentials = config.credentials()
        self.stats = CallStats()
        self.daily_remaining: int | None = None
        self.daily_limit: int = config.daily_limit
        self._clock = clock
        storage = open_storage(limits_url, prefix=limits_prefix)
        # Limits are HubSpot's per app and account: workers on one account share them.
        account = account_key(config.base_url, *_identity(self.credentials))
        # The burst window a little longer than HubSpot's (11 s for 10 s): our clock starts
        # a call before HubSpot's does, and uneven network delay could otherwise squeeze
        # one call too many in. Search keeps 1 s (2 s would halve it); a rare 429 is retried.
        self._burst = CallLimit(storage, config.burst_per_10s, 10.0 * _WINDOW_MARGIN,
                                "hubspot", account, "burst", sleep=sleep)
        self._search = CallLimit(storage, config.search_per_second, 1.0,
                                 "hubspot", account, "search", sleep=sleep)
        self._errors = _api_exception_types()
        self._token_expires = 0.0
        self._token_lock = threading.Lock()
        retry = Retry(
            total=config.retries, connect=config.retries, read=0,
            status=config.retries, status_forcelist=RETRY_STATUSES,
            allowed_methods=None,  # every method: batch writes are POSTs, updates PATCHes
            backoff_factor=config.retry_backoff_s, respect_retry_after_header=True,
            raise_on_status=False,  # the last 429/5xx comes back, and is reported as such
        )
        token = (self.credentials.access_token.get_secret_value()
                 if isinstance(self.credentials, PrivateAppCredentials) else "pending")
        self.client = hubspot.Client.create(access_token=token, host=config.base_url,
                                            retry=retry)
        crm = self.client.crm
        self.owners = crm.owners.owners_api
        self.contacts = crm.contacts.basic_api
        self.contacts_batch = crm.contacts.batch_api
        self.contacts_search = crm.contacts.search_api
        self.tasks_batch = crm.objects.tasks.batch_api
        self.tasks_search = crm.objects.tasks.search_api
        self.emails = crm.objects.emails.basic_api
        self.emails_batch = crm.objects.emails.batch_api
        self.properties = crm.properties.core_api
        self.groups = crm.properties.groups_api
        self.associations = crm.associations.v4.batch_api
        self.emails_search = crm.objects.emails.search_api
        self.meetings_search = crm.objects.meetings.search_api
        self._apis = [self.owners, self.contacts, self.contacts_batch, self.contacts_search,
                      self.tasks_batch, self.tasks_search, self.emails, self.emails_batch,
                      self.properties, self.groups, self.associations, self.emails_search,
                      self.meetings_search]
        self._oauth = self.client.oauth.tokens_api

    def call(self, what: str, method: Callable[..., Any], *args: Any, search: bool = False,
             **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """Make one API call through the limiter, the budget guard and the retries.

        Args:
            what: the call in words, for error messages ("list contacts").
            method: a generated API method, e.g. ``transport.contacts.get_page``.
            *args: its positional arguments (request bodies may be plain dicts).
            search: the call is a CRM search, which has its own per-second limit.
            **kwargs: its keyword arguments.

        Returns:
            The HTTP status and the JSON body (2xx only; 207 included).

        Raises:
            AuthError: the token is refused, or lacks a scope.
            RateLimitedError: still 429 after the retries, or the daily budget is spent.
            HubSpotError: any other 4xx, or a 5xx after the retries.
            ConnectorError: HubSpot could not be reached.
        """
        self._ensure_token()
        refreshed = False
        while True:
            self._guard_budget(what)
            if search:
                self._search.acquire()
            self._burst.acquire()
            self.stats.calls += 1
            try:
                response = method(*args, _preload_content=False,
                                  _request_timeout=self.config.timeout_s, **kwargs)
            except self._errors as exc:
                status = int(getattr(exc, "status", 0) or 0)
                headers = getattr(exc, "headers", None) or {}
                self._note_headers(headers)
                if (status == 401 and isinstance(self.credentials, OAuthCredentials)
                        and not refreshed):
                    self._refresh_token()  # an access token can die before its expiry
                    refreshed = True
                    continue
                raise self._error(what, status, headers, getattr(exc, "body", None)) from None
            except urllib3.exceptions.HTTPError as exc:
                raise ConnectorError(
                    f"HubSpot at {self.config.base_url} could not be reached to {what}: "
                    f"{exc}") from None
            try:
                raw = response.data
                self._note_headers(response.headers)
                return int(response.status), (json.loads(raw) if raw else {})
            finally:
                response.release_conn()

    # -- internals ------------------------------------------------------------------------

    def _note_headers(self, headers: Mapping[str, str]) -> None:
        remaining = _header(headers, "X-HubSpot-RateLimit-Daily-Remaining")
        daily = _header(headers, "X-HubSpot-RateLimit-Daily")
        if remaining is not None and remaining.isdigit():
            self.daily_remaining = int(remaining)
        if daily is not None and daily.isdigit():
            self.daily_limit = int(daily)

    def _guard_budget(self, what: str) -> None:
        if self.daily_remaining is None:
            return
        reserve = int(self.daily_limit * (1 - self.config.daily_budget_share))
        if self.daily_remaining <= reserve:
            raise RateLimitedError(
                f"HubSpot daily budget spent: {self.daily_remaining:,} of {self.daily_limit:,} "
                f"requests left today are kept for other apps "
                f"(LEADLOOP_HUBSPOT__DAILY_BUDGET_SHARE={self.config.daily_budget_share}); "
                f"not sent: {what}")

    def _error(self, what: str, status: int, headers: Mapping[str, str], body: Any
               ) -> ConnectorError:
        parsed = _json_body(body)
        message = str(parsed.get("message") or f"HTTP {status}")
        scopes = ", ".join(REQUIRED_SCOPES)
        if status == 401:
            return AuthError(f"HubSpot refused the access token to {what} ({message}); use a "
                             f"valid private app token or OAuth app with the scopes {scopes}")
        if status == 403:
            return AuthError(f"HubSpot refused to {what}: the app lacks a scope ({message}); "
                             f"leadloop needs {scopes}")
        if status == 429:
            self.stats.rate_limited += 1
            after = _header(headers, "Retry-After")
            return RateLimitedError(
                f"HubSpot still rate limits after {self.config.retries} retries to {what}: "
                f"{message}", retry_after=float(after) if after else None)
        return HubSpotError(f"HubSpot refused to {what}: HTTP {status}: {message}",
                            status=status, body=parsed)

    def _ensure_token(self) -> None:
        if isinstance(self.credentials, OAuthCredentials) and (
                self._clock() >= self._token_expires - _REFRESH_MARGIN_S):
            self._refresh_token()

    def _refresh_token(self) -> None:
        credentials = self.credentials
        assert isinstance(credentials, OAuthCredentials)
        with self._token_lock:
            self.stats.calls += 1
            try:
                response = self._oauth.create(
                    grant_type="refresh_token", client_id=credentials.client_id,
                    client_secret=credentials.client_secret.get_secret_value(),
                    refresh_token=credentials.refresh_token.get_secret_value(),
                    _preload_content=False, _request_timeout=self.config.timeout_s)
            except self._errors as exc:
                message = _json_body(getattr(exc, "body", None)).get("message", "")
                raise AuthError(
                    f"HubSpot refused the OAuth refresh token ({message}); authorise the app "
                    f"again with the scopes {', '.join(REQUIRED_SCOPES)}") from None
            except urllib3.exceptions.HTTPError as exc:
                raise ConnectorError(f"HubSpot OAuth at {self.config.base_url} could not be "
                                     f"reached: {exc}") from None
            grant = json.loads(response.data)
            response.release_conn()
            token = str(grant["access_token"])
            self._token_expires = self._clock() + float(grant.get("expires_in", 1800))
            for api in self._apis:
                api.api_client.configuration.access_token = token


def _identity(credentials: PrivateAppCredentials | OAuthCredentials) -> tuple[str, ...]:
    if isinstance(credentials, PrivateAppCredentials):
        return (credentials.access_token.get_secret_value(),)
    return (credentials.client_id, credentials.refresh_token.get_secret_value())


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _json_body(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body:
        try:
            parsed = json.loads(body)
        except json.JSONDecodeError:
            return {"message": body[:200]}
        return parsed if isinstance(parsed, dict) else {}
    return {}
