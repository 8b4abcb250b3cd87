"""The one settings object: ``LEADLOOP_*`` environment variables over an optional ``leadloop.toml``.

Nothing else in leadloop reads ``os.environ``.
"""

from __future__ import annotations

import os
import re
from datetime import time
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from connectors.hubspot.config import HubSpotConfig
from connectors.salesforce.config import SalesforceConfig
from connectors.smtp import SmtpConfig
from leadloop.errors import SettingsError
from review_api.webhooks import WebhookSettings

CONFIG_FILE_ENV = "LEADLOOP_CONFIG"
DEFAULT_CONFIG_FILE = "leadloop.toml"
TIERS = ("A", "B", "C", "D")


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class FooterConfig(BaseModel):
    """The footer every email carries (``LEADLOOP_SENDING__FOOTER__*``)."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(
        default="", max_length=300,
        description="Your postal address, shown in every email (CAN-SPAM requires one).",
    )
    ai_note: bool = Field(
        default=True, description="Add a line saying the email was drafted with AI assistance.",
    )


class SendingConfig(BaseModel):
    """When and how much leadloop sends (``LEADLOOP_SENDING__*``)."""

    model_config = ConfigDict(extra="forbid")

    max_per_mailbox_per_day: int = Field(
        default=50, ge=1, le=10_000,
        description="Emails one rep's mailbox sends in a UTC day.",
    )
    max_per_domain_per_day: int = Field(
        default=20, ge=1, le=10_000,
        description="Emails sent to one recipient domain in a UTC day, all reps together.",
    )
    window: str = Field(
        default="09:00-17:00", description="Sending hours, HH:MM-HH:MM in the lead's local time.",
    )
    days: str = Field(
        default="mon-fri", description="Sending days in the lead's local time: mon-fri, "
        "or a list such as mon,tue,thu.",
    )
    holidays: list[str] = Field(
        default=["lead"], description="Public holiday calendars to skip: 'lead' for the "
        "lead's own country, and/or country codes such as US, GB, DE.",
    )
    default_time_zone: str = Field(
        default="UTC", description="The time zone of a lead whose time zone, state and "
        "country say nothing known.",
    )
    footer: FooterConfig = Field(default_factory=FooterConfig)
    unsubscribe_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where the review API is reached from the internet; unsubscribe links "
        "point at <this>/unsubscribe/<token>. Use https in production.",
    )
    unsubscribe_mailto: str = Field(
        default="", max_length=254,
        description="An address that takes unsubscribe requests by email; when set, "
        "List-Unsubscribe names it after the https link.",
    )

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_window(value)
        return value.strip()

    @field_validator("days")
    @classmethod
    def _days(cls, value: str) -> str:
        parse_days(value)
        return value.strip().lower()

    @field_validator("holidays", mode="before")
    @classmethod
    def _holidays(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, list):
            return value
        import holidays as calendars

        known = calendars.list_supported_countries()
        cleaned = []
        for code in value:
            code = str(code).strip()
            if code.lower() == "lead":
                cleaned.append("lead")
            elif code.upper() in known:
                cleaned.append(code.upper())
            else:
                raise ValueError(f"expected 'lead' or a country code of the holidays "
                                 f"package such as US, GB, DE; {code!r} is neither")
        return cleaned

    @field_validator("default_time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"expected an IANA time zone such as Europe/Berlin, "
                             f"got {value!r}") from None
        return value

    @field_validator("unsubscribe_mailto")
    @classmethod
    def _mailto(cls, value: str) -> str:
        value = value.strip().removeprefix("mailto:")
        if value and not re.match(r"^[^@\s<>,?]+@[^@\s<>,?]+\.[a-zA-Z]{2,}$", value):
            raise ValueError("expected an email address such as unsubscribe@acme.example")
        return value

    @field_validator("unsubscribe_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("expected an http(s) URL such as https://leadloop.example.com")
        return value.rstrip("/")

    @property
    def window_times(self) -> tuple[time, time]:
        """The window's start and end."""
        return parse_window(self.window)

    @property
    def weekdays(self) -> frozenset[int]:
        """The sending days as Python weekday numbers (Monday is 0)."""
        return parse_days(self.days)


def parse_window(text: str) -> tuple[time, time]:
    """``09:00-17:00`` as two times; raises ValueError saying what is expected."""
    match = _WINDOW.match(text)
    expected = f"expected HH:MM-HH:MM such as 09:00-17:00, got {text!r}"
    if match is None:
        raise ValueError(expected)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(expected)
    start = time(h1, m1)
    end = time.max if h2 == 24 else time(h2, m2)
    if end <= start:
        raise ValueError(f"the window's end must come after its start, got {text!r}")
    return start, end


def parse_days(text: str) -> frozenset[int]:
    """``mon-fri`` or ``mon,wed,fri`` as weekday numbers; raises ValueError if wrong."""
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        ends = part.split("-")
        if not part or len(ends) > 2 or any(end not in WEEKDAYS for end in ends):
            raise ValueError(f"expected days such as mon-fri or mon,tue,thu, got {text!r}")
        first, last = WEEKDAYS.index(ends[0]), WEEKDAYS.index(ends[-1])
        if last < first:
            raise ValueError(f"expected days such as mon-fri or mon,tue,thu, got {text!r}")
        days.update(range(first, last + 1))
    return frozenset(days)


class Settings(BaseSettings):
    """Everything an operator can set. Each field documents its env var as LEADLOOP_<NAME>."""

    model_config = SettingsConfigDict(
        env_prefix="LEADLOOP_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(
        default=Path(".leadloop"),
        description="Where the SQLite store, the sandbox CRM and model files live.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default a SQLite file in data_dir. "
        "Use postgresql+psycopg://user@host/db for PostgreSQL.",
    )
    crm: Literal["sandbox", "salesforce", "hubspot"] = Field(
        default="sandbox", description="Which CRM to sync with.",
    )
    salesforce: SalesforceConfig = Field(default_factory=SalesforceConfig)
    hubspot: HubSpotConfig = Field(default_factory=HubSpotConfig)
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    sending: SendingConfig = Field(default_factory=SendingConfig)
    sandbox_path: Path | None = Field(
        default=None, description="The sandbox CRM's SQLite file; default data_dir/sandbox.db."
    )
    weights_path: Path | None = Field(
        default=None, description="The admin's weights file (TOML); default the shipped one."
    )
    templates_path: Path | None = Field(
        default=None, description="Email templates (TOML); default the shipped ones."
    )
    policy_path: Path | None = Field(
        default=None, description="Escalation rules in plain words; default the shipped ones."
    )
    product_facts_path: Path | None = Field(
        default=None, description="What drafts may claim about our product (TOML)."
    )
    draft_note_facts: list[Literal["seats", "timeline"]] = Field(
        default=["seats", "timeline"],
        description="Facts the template drafter may state when a lead's notes give them "
        "plainly ('Wants pricing for 120 seats', 'timeline: Q3'); notes are never pasted. "
        "[] to use none.",
    )
    learn_from_edits: bool = Field(
        default=True, description="Apply what reps' edits taught to new drafts."
    )
    draft_concurrency: int = Field(default=8, ge=1, le=256)
    score_blend: float = Field(
        default=0.5, ge=0, le=1,
        description="The model's share of the final score once a model is promoted.",
    )
    min_labels: int = Field(
        default=200, ge=1, description="Fewer labels than this and the model takes no part."
    )
    drafter: str = Field(
        default="template",
        description="'template', or a chat model such as 'openai:gpt-4o-mini'.",
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="API key handed to the chat model provider."
    )
    draft_tiers: list[str] = Field(
        default=["A", "B"], description="Leads in these tiers get a draft proposed."
    )
    max_drafts_per_run: int = Field(default=200, ge=0, le=100_000)
    proposal_ttl_hours: int = Field(default=72, ge=1, le=24 * 90)
    task_due_days: int = Field(default=2, ge=0, le=60)
    outcome_no_reply_days: int = Field(
        default=14, ge=1, le=365,
        description="days after sending with no reply, bounce or meeting that make the "
                    "email's outcome no_reply")
    escalate_after_hours: int | None = Field(
        default=None, ge=1, le=24 * 90,
        description="Reassign a proposal still pending after this long to the owner's "
        "manager; off when unset.",
    )
    sync_lookback_seconds: int | None = Field(
        default=None, ge=0, le=3600, description="Re-read this much before the cursor; "
        "unset: the CRM's own default (HubSpot 60 s, whose search lags; otherwise 5 s)."
    )
    broker_url: str | None = Field(
        default=None, pattern=r"^(redis|rediss|amqp|amqps|pyamqp)://",
        description="Celery broker for `leadloop worker`, `leadloop scheduler` and a fanned-out "
        "`leadloop run`: redis://host:6379/0 or amqp://user:pass@host:5672//; unset: "
        "everything runs in one process.",
    )
    broker_visibility_timeout: int = Field(
        default=3600, ge=1, le=86_400,
        description="Redis only: seconds before a task a lost worker took is handed out again.",
    )
    broker_key_prefix: str = Field(
        default="", description="Redis only: a prefix for every broker and result key.")
    schedule_sync_minutes: int = Field(
        default=15, ge=1, le=1440, description="`leadloop scheduler`: sync every N minutes.")
    schedule_reconcile_minutes: int = Field(
        default=5, ge=1, le=1440, description="`leadloop scheduler`: reconcile every N minutes.")
    schedule_sweep_minutes: int = Field(
        default=60, ge=1, le=1440,
        description="`leadloop scheduler`: expire and escalate due proposals every N minutes.")
    schedule_send_minutes: int = Field(
        default=5, ge=1, le=1440, description="`leadloop scheduler`: send every N minutes.")
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_concurrency: int = Field(
        default=16, ge=1, le=256,
        description="Requests one API worker process works on at once (more wait their "
        "turn); each holds a database connection, so the store keeps this many open.",
    )
    limits_url: str | None = Field(
        default=None, description="Where the CRM rate limits and the LLM concurrency cap "
        "are counted, so every worker shares them: a Redis URL (redis://127.0.0.1:6379/0); "
        "unset: each process counts its own.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE)
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

    @field_validator("draft_tiers")
    @classmethod
    def _tiers(cls, value: list[str]) -> list[str]:
        wrong = [t for t in value if t.upper() not in TIERS]
        if wrong:
            raise ValueError(f"expected tiers among {', '.join(TIERS)}, got {wrong}")
        return [t.upper() for t in value]

    @field_validator("database_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("expected a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @field_validator("limits_url")
    @classmethod
    def _limits_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("redis://", "rediss://", "redis+sentinel://", "memory://")):
            raise ValueError("expected a redis://host:port/db URL (or memory://)")
        return value

    @cached_property
    def store_url(self) -> str:
        """The database URL actually used."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'leadloop.db').resolve()}"

    @cached_property
    def sandbox_file(self) -> Path:
        """The sandbox CRM file actually used."""
        return self.sandbox_path or self.data_dir / "sandbox.db"

    def masked(self) -> dict[str, Any]:
        """The effective settings with secrets masked, for ``leadloop config show``."""
        shown = _masked(self.model_dump(), self.model_dump(mode="json"))
        shown["store_url"] = _mask_url(self.store_url)
        if self.database_url:
            shown["database_url"] = _mask_url(self.database_url)
        if self.limits_url:
            shown["limits_url"] = _mask_url(self.limits_url)
        if self.broker_url:
            shown["broker_url"] = _mask_url(self.broker_url)
        shown["sandbox_file"] = str(self.sandbox_file)
        return shown


def _masked(raw: dict[str, Any], shown: dict[str, Any]) -> dict[str, Any]:
    """``shown`` with every secret in ``raw`` (at any depth) replaced by stars."""
    for name, value in raw.items():
        if isinstance(value, SecretStr):
            shown[name] = "**********"
        elif isinstance(value, dict):
            shown[name] = _masked(value, shown[name])
    return shown


def _mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings once; a bad value raises SettingsError naming the key and the form."""
    named = os.environ.get(CONFIG_FILE_ENV)
    if named is not None:  # a file the user names must exist; leadloop.toml is optional
        from leadloop.files import file_problem

        problem, _ = file_problem(Path(named), allow_empty=True)
        if problem is not None:
            raise SettingsError(f"config file {named} ({CONFIG_FILE_ENV}): {problem}; "
                                "expected a TOML file of settings")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        key = ".".join(str(p) for p in first["loc"])
        more = len(exc.errors()) - 1
        extra = f"; and {more} more problem(s)" if more else ""
        if first["type"] == "extra_forbidden":
            known = ", ".join(Settings.model_fields)
            raise SettingsError(f"unknown setting {key!r}; known settings: {known}") from None
        env = "LEADLOOP_" + "__".join(str(p) for p in first["loc"]).upper()
        message = first["msg"].removeprefix("Value error, ")
        given = first.get("input")
        got = "" if isinstance(given, dict | list) else f" (got {given!r})"
        raise SettingsError(f"setting {key} ({env}): {message}{got}{extra}") from None
    except (OSError, ValueError) as exc:  # an unreadable or malformed leadloop.toml
        where = os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE)
        raise SettingsError(f"{where}: not valid TOML: {exc}") from None
