"""HubSpot settings (``LEADLOOP_HUBSPOT__*``) and the typed credentials of each auth flow."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from connectors.errors import AuthError

DEFAULT_BASE_URL = "https://api.hubapi.com"
# The scopes leadloop needs; named in every auth error so an admin knows what to grant.
REQUIRED_SCOPES: tuple[str, ...] = (
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.owners.read",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
    "sales-email-read",
)


@dataclass(frozen=True, slots=True)
class PrivateAppCredentials:
    """A private app's access token: sent as a bearer token, never refreshed."""

    access_token: SecretStr


@dataclass(frozen=True, slots=True)
class OAuthCredentials:
    """A public app's OAuth client and a refresh token: access tokens are minted from it."""

    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr


Credentials = PrivateAppCredentials | OAuthCredentials


# HubSpot's search index lags writes by seconds, and its docs say to allow 30 s or more.
SYNC_LOOKBACK_S = 60


class HubSpotConfig(BaseModel):
    """How to reach a HubSpot account and how hard leadloop may use it."""

    model_config = ConfigDict(extra="forbid")

    access_token: SecretStr | None = Field(
        default=None, description="A private app's access token (pat-...).")
    client_id: str = Field(default="", description="OAuth: the app's client id.")
    client_secret: SecretStr | None = Field(default=None, description="OAuth: client secret.")
    refresh_token: SecretStr | None = Field(default=None, description="OAuth: refresh token.")
    base_url: str = Field(
        default=DEFAULT_BASE_URL, description="The API host; tests and the demo point it at "
        "the sandbox's HubSpot face on loopback.")
    burst_per_10s: int = Field(
        default=100, ge=1, le=10_000, description="Requests per 10 s (100, or 190 on "
        "Professional/Enterprise and with the API add-on).")
    search_per_second: int = Field(default=5, ge=1, le=100,
                                   description="CRM search requests per second.")
    daily_limit: int = Field(default=250_000, ge=1,
                             description="The account's daily request limit.")
    daily_budget_share: float = Field(
        default=0.5, gt=0, le=1, description="The share of the daily limit leadloop may "
        "use; calls stop (rate limited) when less than the rest remains.")
    search_result_cap: int = Field(
        default=10_000, ge=200, description="Results one search can page through; beyond "
        "it the connector restarts the search from the last stamp seen.")
    retries: int = Field(default=5, ge=0, le=20,
                         description="Retries of a 429 or 5xx, for every method.")
    retry_backoff_s: float = Field(default=0.5, ge=0, le=60,
                                   description="Backoff factor between retries.")
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    property_map: dict[str, str] = Field(
        default_factory=dict, description="Lead field -> contact property, overriding the "
        "defaults (see docs/hubspot.md).")
    archived_scan_hours: float = Field(
        default=24, ge=0, le=24 * 7, description="An incremental sync lists archived "
        "contacts (deleted leads) once in each period this long; 0 on every sync.")
    app_secret: SecretStr | None = Field(
        default=None, description="The app's client secret, for webhook v3 signatures.")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError("expected an https:// URL (plain http only on loopback)")
        return value.rstrip("/")

    def credentials(self) -> Credentials:
        """The credentials the settings hold.

        Returns:
            Private app credentials when an access token is set, else OAuth credentials.

        Raises:
            AuthError: neither flow is fully configured; the message names the settings.
        """
        if self.access_token is not None and self.access_token.get_secret_value():
            return PrivateAppCredentials(self.access_token)
        if self.client_id and self.client_secret is not None and self.refresh_token is not None:
            return OAuthCredentials(self.client_id, self.client_secret, self.refresh_token)
        raise AuthError(
            "HubSpot is not configured: set LEADLOOP_HUBSPOT__ACCESS_TOKEN (a private app "
            "token) or LEADLOOP_HUBSPOT__CLIENT_ID, __CLIENT_SECRET and __REFRESH_TOKEN "
            f"(OAuth); the app needs the scopes {', '.join(REQUIRED_SCOPES)}"
        )
