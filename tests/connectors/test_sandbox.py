"""Behaviour of the sandbox CRM beyond the connector contract."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import (
    Lead,
    OutgoingEmail,
    ProposalKind,
    ReviewTaskRequest,
    ScoreWrite,
    SyncCursor,
    TaskStatus,
    parse_lead,
)
from connectors.errors import BadRecordError, ConnectorError, NotFoundError
from connectors.sandbox import SandboxConnector, SandboxCRM
from connectors.sandbox.crm import LEAD_FIELDS
from connectors.sandbox.errors import (
    ImportFileError,
    InvalidValueError,
    SandboxError,
    TaskAlreadyDecidedError,
)
from tests.connectors.conftest import NOW
from tests.connectors.harness import FrozenClock

DUE = date(2025, 6, 8)


def _request(key: str, lead_id: str, owner_id: str = "U000002", **kw: object) -> ReviewTaskRequest:
    fields: dict[str, object] = {
        "proposal_key": key, "kind": ProposalKind.DRAFT, "lead_crm_id": lead_id,
        "owner_id": owner_id, "subject": "Quick question", "notes": "Score 80", "due_date": DUE,
        "email_subject": "Quick question", "email_body": "Hi",
    }
    return ReviewTaskRequest(**{**fields, **kw})  # type: ignore[arg-type]


def _one_task(crm: SandboxCRM) -> str:
    crm.seed(3, now=NOW)
    lead_id = crm.list_lead_ids()[0]
    (result,) = crm.create_review_tasks([_request("p1", lead_id)])
    assert result.task_id
    return result.task_id


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- the file and its stamps -------------------------------------------------------------


def test_lead_fields_are_the_lead_models_fields() -> None:
    assert set(LEAD_FIELDS) == set(Lead.model_fields) - {"crm_id", "modified_at"}


def test_seed_adds_one_team_and_the_leads(sandbox: SandboxCRM) -> None:
    assert sandbox.seed(25, now=NOW) == 25
    assert sandbox.seed(5, seed=8, now=NOW) == 5
    owners = sandbox.list_owners()
    assert len(owners) == 6 and sum(o.manager_id is None for o in owners) == 1
    assert sandbox.count_leads() == 30
    assert sandbox.list_lead_ids()[:2] == ["L000001", "L000002"]


def test_data_survives_reopening_the_file(tmp_path: Path) -> None:
    with SandboxCRM(tmp_path / "crm.db") as crm:
        crm.seed(10, now=NOW)
    with SandboxCRM(tmp_path / "crm.db") as again:
        assert again.count_leads() == 10 and len(again.list_owners()) == 6


def test_a_file_that_is_not_a_sandbox_is_refused(tmp_path: Path) -> None:
    bogus = _write(tmp_path / "notes.db", "this is not a database" * 100)
    with pytest.raises(SandboxError, match="notes.db"):
        SandboxCRM(bogus)


def test_one_batch_shares_a_stamp_and_later_writes_stamp_later(sandbox: SandboxCRM) -> None:
    sandbox.seed(5, now=NOW)
    stamps = {lead["modified_at"] for lead in sandbox.list_leads()}
    assert len(stamps) == 1
    updated = sandbox.update_lead("L000003", title="CTO")
    assert updated["modified_at"] > stamps.pop()


def test_stamps_increase_when_the_clock_repeats_or_goes_back(tmp_path: Path) -> None:
    clock = FrozenClock(NOW)
    crm = SandboxCRM(tmp_path / "crm.db", clock=clock)
    crm.seed(3, now=NOW)
    seen = [crm.get_lead("L000001")["modified_at"]]
    for step, lead_id in enumerate(["L000002", "L000001", "L000003"]):
        if step == 1:
            clock.moment = NOW - timedelta(hours=1)  # an NTP step back
        seen.append(crm.update_lead(lead_id, notes=f"edit {step}")["modified_at"])
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert seen[1] - seen[0] == timedelta(milliseconds=1)
    crm.close()


def test_stamps_follow_a_moving_clock_to_the_millisecond(tmp_path: Path) -> None:
    clock = FrozenClock(NOW + timedelta(microseconds=123_456))
    crm = SandboxCRM(tmp_path / "crm.db", clock=clock)
    crm.seed(1, now=NOW)
    assert crm.get_lead("L000001")["modified_at"] == NOW + timedelta(milliseconds=123)
    clock.moment = NOW + timedelta(minutes=5)
    assert crm.update_lead("L000001", title="CFO")["modified_at"] == clock.moment
    crm.close()


def test_two_objects_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    pipeline_side = SandboxCRM(tmp_path / "crm.db")
    review_side = SandboxCRM(tmp_path / "crm.db")
    pipeline_side.seed(4, now=NOW)
    assert review_side.count_leads() == 4
    connector = SandboxConnector(pipeline_side)
    (result,) = connector.upsert_review_tasks([_request("p1", "L000001")])
    task = review_side.get_task(str(result.task_id))
    review_side.approve_task(task.task_id, by=task.owner_id, email_body="edited")
    (change,) = connector.fetch_task_changes(since=None)
    assert change.email_body == "edited" and change.status is TaskStatus.COMPLETED
    pipeline_side.close()
    review_side.close()


def test_concurrent_writers_lose_nothing_and_never_share_a_stamp(tmp_path: Path) -> None:
    SandboxCRM(tmp_path / "crm.db").seed(0)
    errors: list[BaseException] = []

    def add_one_by_one(prefix: str) -> None:
        crm = SandboxCRM(tmp_path / "crm.db")
        try:
            for i in range(25):
                crm.add_leads([{"email": f"{prefix}{i}@x.example"}])
        except BaseException as exc:  # reported below; a thread cannot raise into the test
            errors.append(exc)
        finally:
            crm.close()

    threads = [threading.Thread(target=add_one_by_one, args=(p,)) for p in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with SandboxCRM(tmp_path / "crm.db") as crm:
        leads = crm.list_leads()
    assert len(leads) == 50
    assert len({lead["modified_at"] for lead in leads}) == 50


def test_another_process_writing_the_file_is_seen(tmp_path: Path) -> None:
    crm = SandboxCRM(tmp_path / "crm.db")
    task_id = _one_task(crm)
    script = (
        "import sys\nfrom connectors.sandbox import SandboxCRM\n"
        "crm = SandboxCRM(sys.argv[1])\n"
        "crm.reject_task(sys.argv[2], by='U000002', reason='not now')\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "crm.db"), task_id],
                   check=True, cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert crm.get_task(task_id).decision == "Rejected"
    crm.close()


# -- leads -------------------------------------------------------------------------------


def test_add_leads_assigns_reps_in_turn_and_stores_values_raw(sandbox: SandboxCRM) -> None:
    sandbox.add_leads([
        {"email": "a@x.example", "employees": "lots"},
        {"email": "b@x.example", "employees": "1,200", "email_opt_out": "yes"},
        {"email": None, "company": "No Email Inc"},
    ])
    leads = sandbox.list_leads()
    reps = [o.owner_id for o in sandbox.list_owners() if o.manager_id]
    assert [lead["owner_id"] for lead in leads] == reps[:3]
    raws = list(SandboxConnector(sandbox).fetch_leads(since=None))
    assert raws[0].fields["employees"] == "lots"
    with pytest.raises(BadRecordError, match="employees"):
        parse_lead(raws[0])
    good = parse_lead(raws[1])
    assert good.employees == 1200 and good.email_opt_out is True
    with pytest.raises(BadRecordError, match="email: is missing"):
        parse_lead(raws[2])


def test_add_leads_refuses_unknown_fields_and_unstorable_values(sandbox: SandboxCRM) -> None:
    with pytest.raises(InvalidValueError, match="record 2: unknown field.*crm_id"):
        sandbox.add_leads([{"email": "a@x.example"}, {"email": "b@x.example", "crm_id": "X"}])
    with pytest.raises(InvalidValueError, match="company holds a nested value"):
        sandbox.add_leads([{"email": "a@x.example", "company": {"name": "Acme"}}])
    assert sandbox.count_leads() == 0  # all or nothing


def test_update_and_delete_errors(sandbox: SandboxCRM) -> None:
    sandbox.seed(2, now=NOW)
    with pytest.raises(NotFoundError, match="L000099"):
        sandbox.update_lead("L000099", title="CEO")
    with pytest.raises(InvalidValueError, match="salary"):
        sandbox.update_lead("L000001", salary=1)
    sandbox.delete_lead("L000001")
    stamp = sandbox.get_lead("L000001")["modified_at"]
    sandbox.delete_lead("L000001")  # a second delete changes nothing
    assert sandbox.get_lead("L000001")["modified_at"] == stamp
    with pytest.raises(NotFoundError, match="deleted"):
        sandbox.update_lead("L000001", title="CEO")
    assert sandbox.count_leads() == 2 and sandbox.count_leads(include_deleted=False) == 1
    with pytest.raises(NotFoundError):
        sandbox.delete_lead("L000099")


def test_events_round_trip_as_json(sandbox: SandboxCRM) -> None:
    sandbox.seed(1, now=NOW)
    events = [{"kind": "page_view", "detail": "/pricing", "at": NOW}]
    sandbox.update_lead("L000001", events=events)
    (raw,) = SandboxConnector(sandbox).fetch_leads(since=None)
    assert parse_lead(raw).events[0].at == NOW


def test_paging_keeps_ties_across_page_boundaries(sandbox: SandboxCRM) -> None:
    sandbox.seed(23, now=NOW)
    sandbox.update_lead("L000004", title="CFO")
    whole = [r.crm_id for r in SandboxConnector(sandbox).fetch_leads(since=None)]
    paged = [r.crm_id for r in SandboxConnector(sandbox, page_size=3).fetch_leads(since=None)]
    assert paged == whole and len(paged) == 23 and paged[-1] == "L000004"


def test_a_cursor_with_a_naive_time_is_read_as_utc(sandbox: SandboxCRM) -> None:
    sandbox.seed(2, now=NOW)
    stamp = sandbox.get_lead("L000001")["modified_at"]
    naive = SyncCursor(stamp.replace(tzinfo=None), "L000001")
    assert [r.crm_id for r in SandboxConnector(sandbox).fetch_leads(since=naive)] == ["L000002"]


def test_write_scores_moves_no_stamp(sandbox: SandboxCRM) -> None:
    sandbox.seed(3, now=NOW)
    connector = SandboxConnector(sandbox)
    last = list(connector.fetch_leads(since=None))[-1]
    sandbox.delete_lead("L000003")
    cursor = SyncCursor(sandbox.get_lead("L000003")["modified_at"], "L000003")
    results = connector.write_scores(
        [ScoreWrite("L000001", 77, "A"), ScoreWrite("L000003", 5, "D")]
    )
    assert results[0].ok and not results[1].ok and "deleted" in str(results[1].error)
    assert list(connector.fetch_leads(since=cursor)) == []
    lead = sandbox.get_lead("L000001")
    assert (lead["score"], lead["tier"]) == (77, "A")
    assert lead["modified_at"] == last.modified_at


# -- import ------------------------------------------------------------------------------


def test_import_csv_with_crm_column_names(sandbox: SandboxCRM, tmp_path: Path) -> None:
    sandbox.seed(0)
    manager = sandbox.list_owners()[0]
    path = _write(tmp_path / "export.csv", (
        "\ufeffFirst Name,LastName,EMAIL,Company,Title,Lead Source,NumberOfEmployees,"
        "Industry,Country,Owner,Description,Record Id\n"
        "Ana,Silva,ana@acme.example,Acme,VP Sales,Web,\"1,200\",Retail,Portugal,"
        f"{manager.email},\"Met at a fair,\nwants a demo\",0031\n"
        "Ben,Okafor,ben@beta.example,Beta,CTO,Referral,lots,Software,Nigeria,Jo Tanaka,,0032\n"
        "Cy,Reyes,cy@gamma.example,Gamma,,,40,,,,,0033\n"
        "\n"
    ))
    report = sandbox.import_file(path)
    assert (report.imported, report.rejected, report.owners_added) == (3, [], 1)
    ana, ben, cy = sandbox.list_leads()
    assert (ana["first_name"], ana["last_name"], ana["company"]) == ("Ana", "Silva", "Acme")
    assert ana["lead_source"] == "Web" and ana["employees"] == "1,200"
    assert ana["notes"] == "Met at a fair,\nwants a demo"
    assert ana["owner_id"] == manager.owner_id
    jo = next(o for o in sandbox.list_owners() if o.name == "Jo Tanaka")
    assert ben["owner_id"] == jo.owner_id and ben["employees"] == "lots"
    assert cy["owner_id"] in {o.owner_id for o in sandbox.list_owners() if o.manager_id}
    raws = list(SandboxConnector(sandbox).fetch_leads(since=None))
    assert parse_lead(raws[0]).employees == 1200
    with pytest.raises(BadRecordError, match="employees"):
        parse_lead(raws[1])


def test_import_semicolon_csv_with_full_names_and_a_misaligned_row(
    sandbox: SandboxCRM, tmp_path: Path
) -> None:
    path = _write(tmp_path / "excel.csv", (
        "Name;E-mail;Organisation;Job Title\n"
        "Dana van der Berg;dana@delta.example;Delta;Buyer\n"
        "Eve Adams;eve@eps.example;Epsilon;Analyst;oops;more\n"
        ";;;\n"
        "Fay;fay@phi.example;Phi;\n"
    ))
    report = sandbox.import_file(path)
    assert report.imported == 2
    assert len(report.rejected) == 1 and report.rejected[0][0] == 3
    assert "6 cells but the header has 4" in report.rejected[0][1]
    dana, fay = sandbox.list_leads()
    assert (dana["first_name"], dana["last_name"]) == ("Dana", "van der Berg")
    assert dana["company"] == "Delta" and dana["title"] == "Buyer"
    assert (fay["first_name"], fay["last_name"]) == ("Fay", None)


def test_import_json_list_and_api_shapes(sandbox: SandboxCRM, tmp_path: Path) -> None:
    rows = [
        {"Email": "gus@eta.example", "FirstName": "Gus", "NumberOfEmployees": 55,
         "HasOptedOutOfEmail": True, "attributes": {"type": "Lead"},
         "events": [{"kind": "webinar", "detail": "Tour", "at": "2025-05-01T10:00:00Z"}]},
        ["not", "an", "object"],
        {"email": "huge@theta.example", "employees": 10**30},
        {"email": "nested@iota.example", "company": {"name": "Iota"}},
        {"email": "bad\udc80@kappa.example"},
        {"email": "odd@lambda.example", "events": "clicked twice"},
    ]
    path = tmp_path / "leads.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    report = sandbox.import_file(path)
    assert report.imported == 2
    assert [n for n, _ in report.rejected] == [2, 3, 4, 5]
    reasons = " | ".join(r for _, r in report.rejected)
    for expected in ("not an object", "too large", "nested value", "unicode"):
        assert expected in reasons
    raws = list(SandboxConnector(sandbox).fetch_leads(since=None))
    gus = parse_lead(raws[0])
    assert gus.employees == 55 and gus.email_opt_out and gus.events[0].kind == "webinar"
    with pytest.raises(BadRecordError, match="events"):
        parse_lead(raws[1])

    ivy_properties = {"email": "ivy@mu.example", "firstname": "Ivy", "hs_lead_status": "NEW"}
    hubspot = {"results": [{"id": "901", "properties": ivy_properties}]}
    path = tmp_path / "hubspot.json"
    path.write_text(json.dumps(hubspot), encoding="utf-8")
    assert sandbox.import_file(path).imported == 1
    ivy = sandbox.list_leads()[-1]
    assert (ivy["email"], ivy["first_name"], ivy["status"]) == ("ivy@mu.example", "Ivy", "NEW")


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.csv", None, "no such file"),
        ("leads.xlsx", "PK binary", "not a CSV or JSON file"),
        ("empty.csv", "  \n", "is empty"),
        ("header.csv", "Email,Company\n", "no leads below"),
        ("broken.json", "[{\"email\": ", "not valid JSON"),
        ("object.json", "{\"email\": \"a@b.example\"}", "holds a JSON dict"),
        ("empty.json", "[]", "has no leads"),
        ("noemail.csv", "Company,Title\nAcme,CEO\n", "has no email column"),
    ],
)
def test_bad_import_files_raise_one_clear_error(
    sandbox: SandboxCRM, tmp_path: Path, name: str, content: str | None, expected: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportFileError, match=expected) as caught:
        sandbox.import_file(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ConnectorError) and caught.value.code == "bad_import_file"
    assert "expected" in str(caught.value) or "UTF-8" in str(caught.value)
    assert sandbox.count_leads() == 0


def test_a_windows_1252_semicolon_csv_imports_with_its_accents(
    sandbox: SandboxCRM, tmp_path: Path
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("Email;Company;Industry\nj@x.example;Café Crème;Select\n".encode("cp1252"))
    assert sandbox.import_file(path).imported == 1
    lead = sandbox.list_leads()[0]
    assert lead["company"] == "Café Crème"
    assert not lead["industry"]  # the form's "Select" placeholder is no industry


def test_a_binary_file_named_csv_is_refused_with_a_hint(
    sandbox: SandboxCRM, tmp_path: Path
) -> None:
    path = tmp_path / "workbook.csv"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 4)
    with pytest.raises(ImportFileError, match="not readable text"):
        sandbox.import_file(path)


# -- rep actions -------------------------------------------------------------------------


def test_deciding_a_completed_task_again_is_an_error(sandbox: SandboxCRM) -> None:
    task_id = _one_task(sandbox)
    sandbox.approve_task(task_id, by="U000002")
    with pytest.raises(TaskAlreadyDecidedError, match=f"{task_id} is already completed"):
        sandbox.reject_task(task_id, by="U000002", reason="changed my mind")
    with pytest.raises(TaskAlreadyDecidedError):
        sandbox.approve_task(task_id, by="U000002")
    with pytest.raises(TaskAlreadyDecidedError):
        sandbox.start_task(task_id, by="U000002")
    assert sandbox.get_task(task_id).decision == "Approved"


def test_rep_actions_move_the_task_through_its_picklist(sandbox: SandboxCRM) -> None:
    task_id = _one_task(sandbox)
    assert sandbox.get_task(task_id).status == "Not Started"
    assert sandbox.start_task(task_id, by="U000003").status == "In Progress"
    assert sandbox.defer_task(task_id, by="U000003").status == "Deferred"
    (change,) = SandboxConnector(sandbox).fetch_task_changes(since=None)
    assert change.status is TaskStatus.DEFERRED and change.decision is None
    done = sandbox.reject_task(task_id, by="U000003", reason="  wrong person  ")
    assert (done.status, done.decision, done.decision_reason) == (
        "Completed", "Rejected", "wrong person")
    assert done.completed_by == "U000003"


def test_rep_actions_check_their_arguments(sandbox: SandboxCRM) -> None:
    task_id = _one_task(sandbox)
    with pytest.raises(NotFoundError, match="T999999"):
        sandbox.approve_task("T999999", by="U000002")
    with pytest.raises(NotFoundError, match="owner U000099"):
        sandbox.approve_task(task_id, by="U000099")
    with pytest.raises(InvalidValueError, match="reason"):
        sandbox.reject_task(task_id, by="U000002", reason=" ")
    with pytest.raises(InvalidValueError, match="whole number"):
        sandbox.set_final_score(task_id, by="U000002", score=7.5)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        sandbox.get_task("T999999")
    assert sandbox.get_task(task_id).status == "Not Started"


def test_list_tasks_filters_by_owner_and_status(sandbox: SandboxCRM) -> None:
    sandbox.seed(4, now=NOW)
    results = sandbox.create_review_tasks([
        _request("a", "L000001", "U000002"), _request("b", "L000002", "U000003"),
        _request("c", "L000001", "U000002"),
    ])
    sandbox.approve_task(str(results[2].task_id), by="U000002")
    assert [t.proposal_key for t in sandbox.list_tasks(owner_id="U000002")] == ["a", "c"]
    assert [t.proposal_key for t in sandbox.list_tasks(status="Not Started")] == ["a", "b"]
    assert [t.proposal_key for t in sandbox.list_tasks(owner_id="U000002",
                                                       status="Completed")] == ["c"]
    assert [t.proposal_key for t in sandbox.tasks_for_lead("L000001")] == ["a", "c"]
    with pytest.raises(InvalidValueError, match="'Not Started'"):
        sandbox.list_tasks(status="open")


def test_a_reps_own_todo_is_not_a_review_task(sandbox: SandboxCRM) -> None:
    sandbox.seed(1, now=NOW)
    todo = sandbox.create_task("L000001", owner_id="U000002", subject="Call back Friday")
    assert sandbox.get_task(todo).proposal_key is None
    assert list(SandboxConnector(sandbox).fetch_task_changes(since=None)) == []
    with pytest.raises(InvalidValueError, match="subject"):
        sandbox.create_task("L000001", owner_id="U000002", subject="")


def test_task_requests_the_crm_refuses_get_their_own_errors(sandbox: SandboxCRM) -> None:
    sandbox.seed(2, now=NOW)
    sandbox.delete_lead("L000002")
    results = sandbox.create_review_tasks([
        _request("gone", "L000002"),
        _request("nobody", "L000001", owner_id="U000099"),
        _request("long", "L000001", subject="x" * 256),
        _request("", "L000001"),
        _request("fine", "L000001"),
    ])
    errors = [r.error for r in results]
    assert "deleted" in str(errors[0]) and "owner U000099" in str(errors[1])
    assert "256 characters" in str(errors[2]) and "proposal_key" in str(errors[3])
    assert errors[4] is None and results[4].created
    assert [t.proposal_key for t in sandbox.list_tasks()] == ["fine"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from(["k1", "k2", "k3", "bad"]), max_size=6), max_size=4))
def test_retried_batches_never_make_a_second_task(batches: list[list[str]]) -> None:
    with tempfile.TemporaryDirectory() as folder, SandboxCRM(Path(folder) / "c.db") as crm:
        crm.seed(2, now=NOW)
        task_of: dict[str, str] = {}
        for batch in batches:
            requests = [_request(k, "NOPE" if k == "bad" else "L000001") for k in batch]
            for key, result in zip(batch, crm.create_review_tasks(requests), strict=True):
                if key == "bad":
                    assert result.error and result.task_id is None
                    continue
                assert result.task_id is not None
                assert task_of.setdefault(key, result.task_id) == result.task_id
        assert len(crm.list_tasks()) == len(task_of)


# -- email log ---------------------------------------------------------------------------


def test_the_email_log_holds_one_entry_per_key(sandbox: SandboxCRM) -> None:
    sandbox.seed(1, now=NOW)
    connector = SandboxConnector(sandbox)
    email = OutgoingEmail("k1", "L000001", "a@x.example", "Hello", "Hi", "U000002")
    first = connector.send_email(email)
    connector.send_email(email)
    (logged,) = sandbox.sent_emails()
    assert (logged.message_id, logged.to, logged.body) == (first.message_id, "a@x.example", "Hi")
    assert logged.sent_at == first.sent_at and first.sent_at.tzinfo is not None
    with pytest.raises(NotFoundError, match="L000042"):
        connector.send_email(OutgoingEmail("k2", "L000042", "a@x.example", "S", "B", "U000002"))
    with pytest.raises(InvalidValueError):
        connector.send_email(OutgoingEmail("", "L000001", "a@x.example", "S", "B", "U000002"))
    assert len(sandbox.sent_emails()) == 1


def test_from_path_creates_the_file_and_its_folder(tmp_path: Path) -> None:
    connector = SandboxConnector.from_path(tmp_path / "deep" / "crm.db",
                                           clock=lambda: datetime(2025, 1, 1, tzinfo=UTC))
    assert connector.name == "sandbox"
    assert (tmp_path / "deep" / "crm.db").exists()
    assert list(connector.fetch_leads(since=None)) == []
    connector.close()
