"""Reading a team's own lead export (CSV or JSON) into sandbox lead rows.

Column names are matched case-insensitively and without spaces or punctuation, so
``First Name``, ``FirstName``, ``first_name`` and ``FIRST-NAME`` all mean ``first_name``.
Values are kept as they are: a malformed value is the sync's to report, with the lead
it belongs to. Only what cannot be stored at all is rejected here, row by row.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from connectors.csvfile import is_placeholder, read_csv_text
from connectors.errors import CsvFileError
from connectors.sandbox.errors import ImportFileError

EXPECTED = (
    "expected a .csv file with a header row, or a .json file holding a list of objects, "
    "with one lead per row and at least an Email column"
)
# SQLite stores integers in 64 bits; anything bigger cannot be stored as a number.
_MAX_INT = 2**63 - 1
_MIN_INT = -(2**63)

# Our field names and the spellings common CRM exports use for them, in normalised form
# (lower case, letters and digits only).
_ALIASES: dict[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "workemail", "businessemail", "primaryemail"),
    "first_name": ("firstname", "first", "givenname", "forename"),
    "last_name": ("lastname", "last", "surname", "familyname"),
    "title": ("title", "jobtitle", "position", "role"),
    "company": (
        "company", "companyname", "account", "accountname", "organization", "organisation",
    ),
    "industry": ("industry", "sector", "vertical"),
    "employees": (
        "employees", "numberofemployees", "employeecount", "numemployees", "headcount",
        "companysize",
    ),
    "country": ("country", "countryregion", "billingcountry", "mailingcountry"),
    "state": ("state", "stateregion", "province", "stateprovince", "mailingstate"),
    "time_zone": ("timezone", "hstimezone", "leadlooptimezonec", "tz"),
    "lead_source": ("leadsource", "source", "originalsource", "origin"),
    "status": ("status", "leadstatus", "hsleadstatus"),
    "owner": (
        "owner", "ownerid", "leadowner", "owneremail", "ownername", "contactowner",
        "hubspotowner", "hubspotownerid", "salesrep", "rep", "assignedto",
    ),
    "past_purchases": ("pastpurchases", "purchases", "numberofpurchases", "orders"),
    "lifetime_value": ("lifetimevalue", "ltv", "customerlifetimevalue", "totalrevenue"),
    "email_opt_out": (
        "emailoptout", "hasoptedoutofemail", "optout", "unsubscribed", "donotemail",
        "unsubscribedfromallemail",
    ),
    "notes": ("notes", "note", "description", "comments"),
    "events": ("events", "engagementevents"),
    "created_at": ("createdat", "createddate", "createdate", "created"),
    "full_name": ("name", "fullname", "contactname", "leadname"),
    # Kept as one dated engagement event, so recency counts it.
    "last_activity": (
        "lastactivity", "lastactivitydate", "lastactivityat", "lastengagementdate",
        "hslastactivitydate", "lastcontacted", "lastengaged",
    ),
}
_FIELD_BY_ALIAS = {alias: field for field, aliases in _ALIASES.items() for alias in aliases}


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One row of a lead file: its fields by our names, or why it cannot be stored."""

    row_number: int
    fields: dict[str, Any]
    problem: str | None = None


def read_lead_file(path: str | Path) -> list[ImportRow]:
    """Read every row of a CSV or JSON lead file, keyed by our field names.

    Args:
        path: the file; ``.csv`` or ``.json`` by its extension.

    Returns:
        One row per lead in file order. CSV rows are numbered as a spreadsheet shows them
        (the header is row 1); JSON rows by their place in the list, from 1. ``owner``
        holds the owner column's raw value (an id, an email or a name) for the CRM to
        resolve; ``full_name`` is already split into first and last name.

    Raises:
        ImportFileError: the file is missing, unreadable, empty, not CSV or JSON, or has no
            email column.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ImportFileError(f"{file}: not a CSV or JSON file; {EXPECTED}")
    if suffix == ".csv":
        try:
            decoded = read_csv_text(file, expected=EXPECTED)
        except CsvFileError as exc:
            raise ImportFileError(str(exc)) from None
        columns, rows = _csv_rows(file, decoded.text, decoded.delimiter)
    else:
        columns, rows = _json_rows(file, _json_text(file))
    if not rows:
        raise ImportFileError(f"{file}: has no leads, only a header; {EXPECTED}")
    if "email" not in columns:
        raise ImportFileError(
            f"{file}: has no email column (found: {', '.join(sorted(columns)) or 'none'}); "
            f"{EXPECTED}"
        )
    return rows


def _normalise(column: str) -> str:
    return re.sub(r"[^a-z0-9]", "", column.lower())


def _json_text(file: Path) -> str:
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ImportFileError(f"{file}: no such file; {EXPECTED}") from None
    except IsADirectoryError:
        raise ImportFileError(f"{file}: is a folder, not a file; {EXPECTED}") from None
    except UnicodeDecodeError:
        raise ImportFileError(f"{file}: is not UTF-8 text; JSON is UTF-8 by definition") from None
    except OSError as exc:
        raise ImportFileError(f"{file}: cannot be read ({exc.strerror}); {EXPECTED}") from None
    if not text.strip():
        raise ImportFileError(f"{file}: is empty; {EXPECTED}")
    return text


def _csv_rows(file: Path, text: str, delimiter: str) -> tuple[set[str], list[ImportRow]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise ImportFileError(f"{file}: is not valid CSV ({exc}); {EXPECTED}") from None
    start = next(i for i, cells in enumerate(records) if any(c.strip() for c in cells))
    header = records[start]
    fields_by_index = {i: _FIELD_BY_ALIAS.get(_normalise(name)) for i, name in enumerate(header)}
    columns = {f for f in fields_by_index.values() if f}
    if "full_name" in columns:
        columns |= {"first_name", "last_name"}
    rows = []
    # Rows are numbered as a spreadsheet shows them: the header is row start + 1.
    for number, cells in enumerate(records[start + 1 :], start=start + 2):
        if not any(cell.strip() for cell in cells):
            continue  # blank lines in a spreadsheet export are not leads
        if any(cell.strip() for cell in cells[len(header) :]):
            rows.append(ImportRow(number, {}, (
                f"has {len(cells)} cells but the header has {len(header)}; "
                "a quote or delimiter is probably out of place"
            )))
            continue
        raw: dict[str, Any] = {}
        for i, cell in enumerate(cells[: len(header)]):
            field = fields_by_index.get(i)
            if field and not is_placeholder(cell) and field not in raw:
                raw[field] = cell
        rows.append(_finish_row(number, raw))
    return columns, rows


def _json_rows(file: Path, text: str) -> tuple[set[str], list[ImportRow]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            f"{file}: is not valid JSON (line {exc.lineno}: {exc.msg}); {EXPECTED}"
        ) from None
    if isinstance(document, dict):
        # API dumps wrap the list: Salesforce under "records", HubSpot under "results".
        for key in ("records", "results", "leads"):
            if isinstance(document.get(key), list):
                document = document[key]
                break
    if not isinstance(document, list):
        raise ImportFileError(f"{file}: holds a JSON {type(document).__name__}; {EXPECTED}")
    columns: set[str] = set()
    rows = []
    for number, item in enumerate(document, start=1):
        if not isinstance(item, dict):
            rows.append(ImportRow(number, {}, f"is a JSON {type(item).__name__}, not an object"))
            continue
        flat: dict[str, Any] = dict(item)
        if isinstance(item.get("properties"), dict):  # HubSpot nests a record's fields
            flat = {**item["properties"], **{k: v for k, v in item.items() if k != "properties"}}
        raw: dict[str, Any] = {}
        for name, value in flat.items():
            field = _FIELD_BY_ALIAS.get(_normalise(str(name)))
            if field:
                columns.add(field)
                if value is not None and value != "":
                    raw[field] = value
        if "full_name" in columns:
            columns |= {"first_name", "last_name"}
        rows.append(_finish_row(number, raw))
    return columns, rows


def _finish_row(number: int, raw: dict[str, Any]) -> ImportRow:
    full_name = raw.pop("full_name", None)
    if isinstance(full_name, str) and "first_name" not in raw and "last_name" not in raw:
        # Split at the first space: multi-word surnames ("van der Berg", "García López")
        # are more common in exports than multi-word first names.
        first, _, last = full_name.strip().partition(" ")
        raw["first_name"] = first
        if last.strip():
            raw["last_name"] = last.strip()
    last_activity = raw.pop("last_activity", None)
    if last_activity is not None and "events" not in raw:
        raw["events"] = [{"kind": "activity", "detail": "last activity in the export",
                          "at": last_activity}]
    if not raw:
        return ImportRow(number, {}, "has no value in any lead column")
    problem = next((p for name, value in raw.items() if (p := unstorable(name, value))), None)
    return ImportRow(number, raw, problem)


def unstorable(name: str, value: Any) -> str | None:
    """Why ``value`` cannot be stored in lead column ``name``, or None when it can."""
    if name == "events":
        return None  # kept as JSON whatever its shape; the sync reports a malformed one
    if isinstance(value, Mapping | list | tuple | set):
        return f"{name} holds a nested value ({type(value).__name__}); a single value is expected"
    if isinstance(value, int) and not _MIN_INT <= value <= _MAX_INT:
        return f"{name} is a number too large to store"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{name} is not valid unicode text (lone surrogate)"
    if not isinstance(value, str | int | float | datetime | date):
        return f"{name} holds a {type(value).__name__}, which cannot be stored"
    return None


def unused_columns(path: str | Path) -> list[str]:
    """The columns of a lead file that no lead field takes, in file order (call after a
    successful :func:`read_lead_file`, which has checked the file)."""
    file = Path(path)
    names: list[str] = []
    if file.suffix.lower() == ".csv":
        decoded = read_csv_text(file, expected=EXPECTED)
        for cells in csv.reader(io.StringIO(decoded.text, newline=""),
                                delimiter=decoded.delimiter):
            if any(cell.strip() for cell in cells):
                names = [cell.strip() for cell in cells]
                break
    else:
        document = json.loads(_json_text(file))
        if isinstance(document, dict):
            document = next((document[k] for k in ("records", "results", "leads")
                             if isinstance(document.get(k), list)), [])
        for item in document if isinstance(document, list) else []:
            if isinstance(item, dict):
                flat = {**item, **(item.get("properties") or {})} \
                    if isinstance(item.get("properties"), dict) else item
                names += [str(k) for k in flat if k != "properties" and str(k) not in names]
    return [name for name in names
            if name and _FIELD_BY_ALIAS.get(_normalise(name)) is None]


def iter_columns() -> Iterator[tuple[str, tuple[str, ...]]]:
    """Our field names with the column spellings accepted for each (for help texts)."""
    yield from _ALIASES.items()
