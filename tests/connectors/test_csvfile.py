"""The one CSV reader: delimiters, encodings and placeholders as analysts' exports have them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from connectors.csvfile import read_csv_frame
from connectors.errors import CsvFileError

ROWS = [("Email", "Company", "Visits", "Profile"),
        ("a@x.example", "Café Crème", "3", "Select"),
        ("b@y.example", "Brücke AG", "N/A", "Potential Lead"),
        ("c@z.example", "Smith, Jones & Co", "-", "")]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1"])
def test_every_common_delimiter_and_encoding_reads_the_same_frame(
    tmp_path: Path, delimiter: str, encoding: str
) -> None:
    def cell(value: str) -> str:
        return f'"{value}"' if delimiter in value or "," in value else value

    path = tmp_path / "export.csv"
    path.write_bytes("\r\n".join(delimiter.join(cell(v) for v in row) for row in ROWS)
                     .encode(encoding))
    frame = read_csv_frame(path, expected="")
    assert list(frame.columns) == ["Email", "Company", "Visits", "Profile"]
    assert frame["Company"].tolist() == ["Café Crème", "Brücke AG", "Smith, Jones & Co"]
    assert frame["Visits"].isna().tolist() == [False, True, True]  # N/A and - are missing
    assert pd.api.types.is_numeric_dtype(frame["Visits"])
    assert frame["Profile"].isna().tolist() == [True, False, True]  # Select is missing


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "no such file"), (b"", "is empty"), (b"  \n\n", "is empty"),
     (b"Email,Converted\n", "no leads below"), (b"PK\x03\x04\x00\x00\x08\x00" * 40,
                                                "not readable text")],
)
def test_unreadable_files_get_one_line_naming_the_file(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    path = tmp_path / "leads.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CsvFileError, match=expected) as caught:
        read_csv_frame(path, expected="expected a CSV export")
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
