"""A lead's local time zone and country, from what the CRM knows about the lead.

In order: the CRM's own time-zone field (an IANA name such as ``Europe/Berlin``, or
HubSpot's spelling ``europe_slash_berlin``); else the US state or Canadian province; else the
country; else the default the settings name. A country with several zones (the US, Canada,
Australia, Brazil, Russia, Mexico) without a known state takes its most populous business
zone: the window then errs by an hour or three, never by a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# Country name or ISO code (lower case) -> (ISO code, zone).
_COUNTRIES: dict[str, tuple[str, str]] = {}
for _code, _zone, *_names in (
    ("US", "America/New_York", "united states", "usa", "united states of america"),
    ("CA", "America/Toronto", "canada"),
    ("MX", "America/Mexico_City", "mexico"),
    ("BR", "America/Sao_Paulo", "brazil"),
    ("AR", "America/Argentina/Buenos_Aires", "argentina"),
    ("CL", "America/Santiago", "chile"),
    ("CO", "America/Bogota", "colombia"),
    ("GB", "Europe/London", "united kingdom", "uk", "great britain", "england", "scotland",
     "wales"),
    ("IE", "Europe/Dublin", "ireland"),
    ("DE", "Europe/Berlin", "germany"),
    ("FR", "Europe/Paris", "france"),
    ("ES", "Europe/Madrid", "spain"),
    ("PT", "Europe/Lisbon", "portugal"),
    ("IT", "Europe/Rome", "italy"),
    ("NL", "Europe/Amsterdam", "netherlands", "the netherlands", "holland"),
    ("BE", "Europe/Brussels", "belgium"),
    ("LU", "Europe/Luxembourg", "luxembourg"),
    ("CH", "Europe/Zurich", "switzerland"),
    ("AT", "Europe/Vienna", "austria"),
    ("SE", "Europe/Stockholm", "sweden"),
    ("NO", "Europe/Oslo", "norway"),
    ("DK", "Europe/Copenhagen", "denmark"),
    ("FI", "Europe/Helsinki", "finland"),
    ("PL", "Europe/Warsaw", "poland"),
    ("CZ", "Europe/Prague", "czechia", "czech republic"),
    ("GR", "Europe/Athens", "greece"),
    ("RO", "Europe/Bucharest", "romania"),
    ("TR", "Europe/Istanbul", "turkey", "türkiye"),
    ("RU", "Europe/Moscow", "russia"),
    ("IL", "Asia/Jerusalem", "israel"),
    ("AE", "Asia/Dubai", "united arab emirates", "uae"),
    ("SA", "Asia/Riyadh", "saudi arabia"),
    ("ZA", "Africa/Johannesburg", "south africa"),
    ("NG", "Africa/Lagos", "nigeria"),
    ("KE", "Africa/Nairobi", "kenya"),
    ("EG", "Africa/Cairo", "egypt"),
    ("IN", "Asia/Kolkata", "india"),
    ("SG", "Asia/Singapore", "singapore"),
    ("MY", "Asia/Kuala_Lumpur", "malaysia"),
    ("ID", "Asia/Jakarta", "indonesia"),
    ("PH", "Asia/Manila", "philippines"),
    ("TH", "Asia/Bangkok", "thailand"),
    ("VN", "Asia/Ho_Chi_Minh", "vietnam", "viet nam"),
    ("CN", "Asia/Shanghai", "china"),
    ("HK", "Asia/Hong_Kong", "hong kong"),
    ("TW", "Asia/Taipei", "taiwan"),
    ("KR", "Asia/Seoul", "south korea", "korea"),
    ("JP", "Asia/Tokyo", "japan"),
    ("AU", "Australia/Sydney", "australia"),
    ("NZ", "Pacific/Auckland", "new zealand"),
):
    for _key in (_code.lower(), *_names):
        _COUNTRIES[_key] = (_code, _zone)

# US states and Canadian provinces, by name and postal code (lower case) -> zone. A state
# split between zones takes the zone most of its people live in.
_STATES: dict[str, str] = {}
for _zone, _entries in (
    ("America/New_York", "ct connecticut de delaware fl florida ga georgia me maine md "
     "maryland ma massachusetts nh new_hampshire nj new_jersey ny new_york nc "
     "north_carolina oh ohio pa pennsylvania ri rhode_island sc south_carolina vt vermont "
     "va virginia wv west_virginia dc district_of_columbia on ontario qc quebec"),
    ("America/Detroit", "mi michigan"),
    ("America/Indiana/Indianapolis", "in indiana"),
    ("America/Kentucky/Louisville", "ky kentucky"),
    ("America/Chicago", "al alabama ar arkansas il illinois ia iowa ks kansas la louisiana "
     "mn minnesota ms mississippi mo missouri ne nebraska nd north_dakota ok oklahoma sd "
     "south_dakota tn tennessee tx texas wi wisconsin mb manitoba"),
    ("America/Denver", "co colorado mt montana nm new_mexico ut utah wy wyoming id idaho "
     "ab alberta"),
    ("America/Phoenix", "az arizona"),
    ("America/Los_Angeles", "ca california nv nevada or oregon wa washington bc "
     "british_columbia"),
    ("America/Anchorage", "ak alaska"),
    ("Pacific/Honolulu", "hi hawaii"),
    ("America/Regina", "sk saskatchewan"),
    ("America/Halifax", "ns nova_scotia nb new_brunswick pe prince_edward_island"),
    ("America/St_Johns", "nl newfoundland newfoundland_and_labrador"),
):
    for _name in _entries.split():
        _STATES[_name.replace("_", " ")] = _zone


@dataclass(frozen=True, slots=True)
class LeadZone:
    """Where a lead's local time comes from: the zone, the country code, and the source."""

    zone: ZoneInfo
    country: str | None  # ISO code when known: the holiday calendar to use
    source: str  # "time zone field", "state", "country" or "default"


@cache
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def zone_named(text: str) -> ZoneInfo | None:
    """An IANA zone from a CRM's spelling (``Asia/Tokyo``, ``asia_slash_tokyo``), or None."""
    key = text.strip().lower().replace("_slash_", "/")
    name = _zone_names().get(key)
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def country_code(country: str) -> str | None:
    """The ISO code of a country name or code in our table, or None."""
    found = _COUNTRIES.get(country.strip().lower())
    return found[0] if found else None


def lead_zone(fields: dict[str, Any], *, default: str) -> LeadZone:
    """The lead's time zone from its fields ``time_zone``, ``state`` and ``country``."""
    country = str(fields.get("country") or "")
    code = country_code(country)
    named = zone_named(str(fields.get("time_zone") or ""))
    if named is not None:
        return LeadZone(named, code, "time zone field")
    state = str(fields.get("state") or "").strip().lower()
    if state in _STATES and code in (None, "US", "CA"):
        return LeadZone(ZoneInfo(_STATES[state]), code or _state_country(state), "state")
    found = _COUNTRIES.get(country.strip().lower())
    if found is not None:
        return LeadZone(ZoneInfo(found[1]), found[0], "country")
    return LeadZone(ZoneInfo(default), None, "default")


def _state_country(state: str) -> str:
    canadian = {"on", "ontario", "qc", "quebec", "mb", "manitoba", "ab", "alberta", "bc",
                "british columbia", "sk", "saskatchewan", "ns", "nova scotia", "nb",
                "new brunswick", "pe", "prince edward island", "nl", "newfoundland",
                "newfoundland and labrador"}
    return "CA" if state in canadian else "US"
