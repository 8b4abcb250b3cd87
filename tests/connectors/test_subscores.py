"""Fit and engagement sub-scores and the grade reach every CRM's lead fields."""

from __future__ import annotations

from typing import Any

from connectors.base import ScoreWrite
from connectors.hubspot.properties import CONTACT_PROPERTIES
from connectors.salesforce.check import required_fields
from connectors.salesforce.config import SalesforceConfig
from connectors.sandbox import SandboxCRM
from connectors.sandbox.generator import generate_leads
from connectors.sandbox.hubspot_face import sandbox_id
from tests.connectors.harness import ContractCRM

from .conftest import NOW


def _far_lead(contract: ContractCRM, crm_id: str) -> dict[str, Any]:
    crm: SandboxCRM = contract.leads.crm  # type: ignore[attr-defined]
    # The HubSpot face names sandbox leads by number.
    return crm.get_lead(crm_id if crm_id.startswith("L") else sandbox_id("L", crm_id) or crm_id)


def test_sub_scores_and_grade_are_written_and_left_alone_when_unknown(
    contract: ContractCRM,
) -> None:
    connector = contract.connector
    owners = [{"owner_id": o.owner_id, "manager_id": o.manager_id}
              for o in connector.list_owners()]
    added = contract.leads.add_leads(generate_leads(2, seed=3, now=NOW, owners=owners))
    results = connector.write_scores([ScoreWrite(added[0], 71, "A", 40, 25, "A2"),
                                      ScoreWrite(added[1], 12, "D")])
    assert [r.ok for r in results] == [True, True], results
    first, second = (_far_lead(contract, i) for i in added)
    assert (first["score"], first["fit_score"], first["engagement_score"], first["grade"]) == (
        71, 40, 25, "A2")
    assert (second["score"], second["fit_score"], second["grade"]) == (12, None, None)
    # A write without sub-scores (a store from before them) keeps what the CRM shows.
    assert connector.write_scores([ScoreWrite(added[0], 60, "B")])[0].ok
    again = _far_lead(contract, added[0])
    assert (again["score"], again["fit_score"], again["grade"]) == (60, 40, "A2")


def test_admins_are_told_to_create_the_sub_score_fields() -> None:
    lead_fields = {f.api_name: f.field_type for f in required_fields(SalesforceConfig())
                   if f.sobject == "Lead"}
    assert lead_fields["LeadLoop_Fit_Score__c"] == "Number(3, 0)"
    assert lead_fields["LeadLoop_Engagement_Score__c"] == "Number(3, 0)"
    assert "A1" in lead_fields["LeadLoop_Grade__c"] and "C3" in lead_fields["LeadLoop_Grade__c"]
    names = {p.name for p in CONTACT_PROPERTIES}
    assert {"leadloop_fit_score", "leadloop_engagement_score", "leadloop_grade"} <= names


def test_an_older_sandbox_file_gains_the_sub_score_columns(tmp_path: Any) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    crm = SandboxCRM(path)
    crm.seed(3, seed=1, now=NOW)
    crm.close()
    db = sqlite3.connect(path)
    # A schema-2 file: without the sub-scores (3), nor the time-zone fields and headers (4).
    for column in ("fit_score", "engagement_score", "grade", "state", "time_zone"):
        db.execute(f"ALTER TABLE leads DROP COLUMN {column}")
    db.execute("ALTER TABLE email_log DROP COLUMN headers")
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    reopened = SandboxCRM(path)
    try:
        lead_id = reopened.list_lead_ids()[0]
        assert reopened.set_scores([ScoreWrite(lead_id, 50, "B", 30, 20, "B2")])[0].ok
        assert reopened.get_lead(lead_id)["grade"] == "B2"
    finally:
        reopened.close()
    check = sqlite3.connect(path)
    try:
        assert check.execute("PRAGMA user_version").fetchone()[0] == 4
    finally:
        check.close()
