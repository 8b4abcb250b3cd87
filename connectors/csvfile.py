"""Reading a CSV export the way analysts have it: any common delimiter, any common encoding.

One reader for every CSV a person hands leadloop (``leadloop sandbox import`` and
``leadloop train --csv``): it decodes UTF-8 (with or without a byte-order mark), else
Windows-1252, else Latin-1; it picks the delimiter among ``,`` ``;`` tab and ``|``; and it
reads form placeholders ("Select", "N/A", "-", empty) as missing. A file that cannot be
read at all raises :class:`~connectors.errors.CsvFileError` with one line naming the file
and what is expected.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.errors import CsvFileError

if TYPE_CHECKING:
    import pandas as pd

DELIMITERS = ",;\t|"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}

PLACEHOLDERS: frozenset[str] = frozenset({
    "", "select", "-", "--", "n/a", "#n/a", "na", "nan", "null", "none", "<na>",
})
"""Cell values (stripped, lower-cased) that mean "not filled in": CRM forms store "Select"
for a drop-down nobody chose, spreadsheets "N/A" or "-"."""

_SAMPLE = 64_000


@dataclass(frozen=True, slots=True)
class CsvText:
    """A decoded CSV file: its text, the delimiter found and the encoding it was read in."""

    path: Path
    text: str
    delimiter: str
    encoding: str

    @property
    def delimiter_name(self) -> str:
        """The delimiter in words (``semicolon``)."""
        return _DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))


def is_placeholder(cell: object) -> bool:
    """Whether a cell is empty or a placeholder that means "not filled in"."""
    return cell is None or (isinstance(cell, str) and cell.strip().lower() in PLACEHOLDERS)


def _decode(path: Path, raw: bytes, expected: str) -> tuple[str, str]:
    if raw.startswith(codecs.BOM_UTF8):
        encodings: tuple[str, ...] = ("utf-8-sig",)
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8", "cp1252", "latin-1")
    for encoding in encodings:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for char in text[:_SAMPLE] if ord(char) < 32 and char not in "\t\r\n")
        if "\x00" in text or controls > 0.01 * max(1, len(text[:_SAMPLE])):
            break  # binary content (a spreadsheet workbook, an archive): not text at all
        return text, encoding
    raise CsvFileError(
        f"{path}: is not readable text in UTF-8, Windows-1252 or Latin-1 (a workbook or "
        f"other binary file?); {expected}"
    )


def _consistent_columns(sample: str, delimiter: str) -> int:
    """How many columns the sample has when split on ``delimiter`` (0 if rows disagree)."""
    try:
        rows = [row for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if row]
    except csv.Error:
        return 0
    if len(rows) > 1:
        rows = rows[:-1]  # the sample may cut the last row short
    if not rows or len(rows[0]) < 2:
        return 0
    agreeing = sum(len(row) == len(rows[0]) for row in rows)
    return len(rows[0]) if agreeing >= 0.9 * len(rows) else 0


def _delimiter(text: str) -> str:
    sample = text[:_SAMPLE]
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = ""
    if sniffed and _consistent_columns(sample, sniffed):
        return sniffed
    # The sniffer can be misled by quoted text; take the delimiter that gives the most
    # columns with every row agreeing, else the one that splits the header most.
    best = max(DELIMITERS, key=lambda d: _consistent_columns(sample, d))
    if _consistent_columns(sample, best):
        return best
    header = next((line for line in text.splitlines() if line.strip()), "")
    return max(DELIMITERS, key=header.count)


def read_csv_text(path: str | Path, *, expected: str) -> CsvText:
    """Read and decode a CSV file and find its delimiter.

    Args:
        path: the file.
        expected: what a good file looks like, for the error line.

    Returns:
        The decoded text with its delimiter and encoding.

    Raises:
        CsvFileError: the file is missing, a folder, unreadable, empty, binary, or holds a
            header but no rows.
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise CsvFileError(f"{file}: no such file; {expected}") from None
    except IsADirectoryError:
        raise CsvFileError(f"{file}: is a folder, not a file; {expected}") from None
    except OSError as exc:
        raise CsvFileError(f"{file}: cannot be read ({exc.strerror}); {expected}") from None
    text, encoding = _decode(file, raw, expected)
    if not text.strip():
        raise CsvFileError(f"{file}: is empty; {expected}")
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        raise CsvFileError(f"{file}: has a header row but no leads below it; {expected}")
    return CsvText(file, text, _delimiter(text), encoding)


def read_csv_frame(path: str | Path, *, expected: str) -> pd.DataFrame:
    """Read a CSV export into a frame, placeholders as missing, types as pandas infers them.

    Args:
        path: the file.
        expected: what a good file looks like, for the error line.

    Returns:
        One row per data row, columns as the header names them.

    Raises:
        CsvFileError: as :func:`read_csv_text`, or the rows do not fit the header.
    """
    import pandas as pd

    decoded = read_csv_text(path, expected=expected)
    # pandas matches missing markers exactly, so give it every spelling we accept.
    spellings = sorted({variant for word in PLACEHOLDERS
                        for variant in (word, word.upper(), word.title(), word.capitalize())})
    try:
        frame = pd.read_csv(
            io.StringIO(decoded.text), sep=decoded.delimiter, na_values=spellings,
            keep_default_na=True, skipinitialspace=True, skip_blank_lines=True,
        )
    except (pd.errors.ParserError, csv.Error) as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise CsvFileError(
            f"{decoded.path}: is not valid CSV with {decoded.delimiter_name} as delimiter "
            f"({reason}); {expected}"
        ) from None
    if frame.empty:
        raise CsvFileError(f"{decoded.path}: has a header row but no leads below it; {expected}")
    frame.columns = [str(name).strip() for name in frame.columns]
    frame.attrs["delimiter"] = decoded.delimiter_name
    frame.attrs["encoding"] = decoded.encoding
    return frame
