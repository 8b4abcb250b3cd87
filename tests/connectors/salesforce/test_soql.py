"""The sandbox face's SOQL subset."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.sandbox import salesforce_soql as soql

ROWS = [
    {"Id": "L2", "SystemModstamp": datetime(2025, 6, 1, tzinfo=UTC), "Email": "a@x.example",
     "Proposal__c": None},
    {"Id": "L1", "SystemModstamp": datetime(2025, 6, 1, tzinfo=UTC), "Email": "o'neil@x.example",
     "Proposal__c": "p1"},
    {"Id": "L3", "SystemModstamp": datetime(2025, 6, 2, tzinfo=UTC), "Email": None,
     "Proposal__c": "p2"},
]
KNOWN = ["Id", "SystemModstamp", "Email", "Proposal__c"]


def _run(text: str) -> list[str]:
    query = soql.resolve(soql.parse(text), KNOWN)
    rows = [dict(r) for r in ROWS if soql.matches(query.where, r)]
    soql.order(rows, query.order_by)
    return [r["Id"] for r in rows[:query.limit]]


def test_range_on_a_stamp_with_an_id_tie_break_in_order() -> None:
    assert _run("SELECT Id FROM Lead WHERE systemmodstamp >= 2025-06-01T00:00:00.000Z "
                "ORDER BY SystemModstamp, Id") == ["L1", "L2", "L3"]
    assert _run("SELECT Id FROM Lead WHERE SystemModstamp > 2025-06-01T00:00:00.000+0000 "
                "OR (SystemModstamp = 2025-06-01T00:00:00Z AND Id > 'L1') "
                "ORDER BY SystemModstamp, Id") == ["L2", "L3"]


def test_null_in_escapes_and_limit() -> None:
    assert _run("SELECT Id FROM Lead WHERE Proposal__c != null ORDER BY Id DESC LIMIT 1") == ["L3"]
    assert _run("SELECT Id FROM Lead WHERE Email = 'o\\'neil@x.example'") == ["L1"]
    assert _run("SELECT Id FROM Lead WHERE Proposal__c IN ('p2', 'p9')") == ["L3"]
    assert _run("SELECT Id FROM Lead WHERE NOT Proposal__c NOT IN ('p1')") == ["L1"]


def test_lower_bound_is_found_only_under_and() -> None:
    where = soql.parse("SELECT Id FROM Lead WHERE SystemModstamp >= 2025-06-01T00:00:00Z "
                       "AND Id != 'x'").where
    assert soql.lower_bound(where, "SystemModstamp") == datetime(2025, 6, 1, tzinfo=UTC)
    either = soql.parse("SELECT Id FROM Lead WHERE SystemModstamp >= 2025-06-01T00:00:00Z "
                        "OR Id = 'x'").where
    assert soql.lower_bound(either, "SystemModstamp") is None
    cursor = soql.parse("SELECT Id FROM Lead WHERE SystemModstamp > 2025-06-02T00:00:00Z OR "
                        "(SystemModstamp = 2025-06-01T00:00:00Z AND Id > 'L1')").where
    assert soql.lower_bound(cursor, "SystemModstamp") == datetime(2025, 6, 1, tzinfo=UTC)


def test_values_pinned_by_in_or_equals_under_and() -> None:
    def pinned(where: str) -> list[object] | None:
        return soql.required_values(soql.parse(f"SELECT Id FROM Lead WHERE {where}").where, "Id")

    assert pinned("Id IN ('L1', 'L2')") == ["L1", "L2"]
    assert pinned("Id = 'L1' AND Email != null") == ["L1"]
    assert pinned("Id IN ('L1', 'L2') AND Id IN ('L2', 'L3')") == ["L2"]
    assert pinned("Id IN ('L1') OR Email = 'a@x.example'") is None
    assert pinned("NOT Id IN ('L1')") is None
    assert pinned("Id > 'L1'") is None


@pytest.mark.parametrize(("text", "code"), [
    ("SELECT Shoe__c FROM Lead", "INVALID_FIELD"),
    ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead GROUP BY Id", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE Id LIKE 'x'", "MALFORMED_QUERY"),
])
def test_outside_the_subset_is_refused_as_salesforce_would(text: str, code: str) -> None:
    with pytest.raises(soql.SoqlError) as caught:
        soql.resolve(soql.parse(text), KNOWN)
    assert caught.value.code == code
