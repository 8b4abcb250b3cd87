"""Error paths of the Salesforce connector, patched at the HTTP boundary with ``responses``."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs

import jwt
import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr, ValidationError

from connectors.base import OutgoingEmail, ProposalKind, ReviewTaskRequest
from connectors.errors import AuthError, ConnectorError
from connectors.salesforce import SalesforceConnector
from connectors.salesforce.config import (
    JwtBearerCredentials,
    SalesforceConfig,
    SessionCredentials,
)
from connectors.salesforce.errors import QuotaGuardError, RequestLimitError
from leadloop.settings import Settings

INSTANCE = "https://acme.my.salesforce.com"
API = f"{INSTANCE}/services/data/v61.0"


def _session_connector(**overrides: object) -> SalesforceConnector:
    config = SalesforceConfig(auth="session", session=SessionCredentials(
        session_id=SecretStr("00Dtoken"), instance_url=INSTANCE), retry_wait_s=0,
        **overrides)  # type: ignore[arg-type]
    return SalesforceConnector(config, http=requests.Session(), sleep=lambda _s: None)


def _error(code: str, message: str = "") -> list[dict[str, str]]:
    return [{"errorCode": code, "message": message or code}]


@responses.activate
def test_jwt_flow_signs_an_assertion_for_the_integration_user(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    (tmp_path / "key.pem").write_bytes(pem)
    token = responses.post("https://login.salesforce.com/services/oauth2/token", json={
        "access_token": "00Dfresh", "instance_url": INSTANCE})
    responses.get(f"{API}/query/", json={"totalSize": 0, "done": True, "records": []})
    config = SalesforceConfig(auth="jwt", jwt=JwtBearerCredentials(
        consumer_key="3MVG9", username="leadloop@acme.example",
        private_key_file=tmp_path / "key.pem"))
    assert SalesforceConnector(config, http=requests.Session()).list_owners() == []
    form = parse_qs(str(token.calls[0].request.body))
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims = jwt.decode(form["assertion"][0], key.public_key(), algorithms=["RS256"],
                        audience="https://login.salesforce.com")
    assert (claims["iss"], claims["sub"]) == ("3MVG9", "leadloop@acme.example")


@responses.activate
def test_jwt_refusal_names_the_flow_and_what_to_fix(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    responses.post("https://login.salesforce.com/services/oauth2/token", status=400, json={
        "error": "invalid_grant", "error_description": "user hasn't approved this consumer"})
    config = SalesforceConfig(auth="jwt", jwt=JwtBearerCredentials(
        consumer_key="3MVG9", username="u@acme.example", private_key=SecretStr(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode())))
    with pytest.raises(AuthError, match="JWT bearer login refused: invalid_grant "
                                        r"\(user hasn't approved.*pre-authorised"):
        SalesforceConnector(config).list_owners()


def test_missing_credentials_name_the_settings() -> None:
    with pytest.raises(AuthError, match="JWT__CONSUMER_KEY.*JWT__USERNAME.*PRIVATE_KEY_FILE"):
        SalesforceConnector(SalesforceConfig()).list_owners()


@responses.activate
def test_request_limit_exceeded_stops_without_retrying() -> None:
    call = responses.get(f"{API}/query/", status=403, json=_error(
        "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))
    with pytest.raises(RequestLimitError, match="API request limit is exceeded"):
        _session_connector().list_owners()
    assert call.call_count == 1


@responses.activate
def test_unable_to_lock_row_on_a_whole_call_is_retried() -> None:
    responses.get(f"{API}/query/", status=400, json=_error("UNABLE_TO_LOCK_ROW"))
    ok = responses.get(f"{API}/query/", json={"totalSize": 0, "done": True, "records": []})
    assert _session_connector().list_owners() == []
    assert ok.call_count == 1


@responses.activate
def test_unknown_field_points_at_the_setup_check() -> None:
    responses.get(f"{API}/queryAll/", status=400, json=_error(
        "INVALID_FIELD", "No such column 'LeadLoop_Past_Purchases__c' on entity 'Lead'"))
    with pytest.raises(ConnectorError, match="LeadLoop_Past_Purchases__c.*leadloop "
                                             "salesforce check"):
        list(_session_connector().fetch_leads(since=None))


@responses.activate
def test_limit_info_header_arms_the_quota_guard() -> None:
    responses.get(f"{API}/query/", json={"totalSize": 0, "done": True, "records": []},
                  headers={"Sforce-Limit-Info": "api-usage=9001/10000"})
    connector = _session_connector(quota_share=0.9)
    connector.list_owners()
    assert connector.api_usage == (9001, 10000)
    with pytest.raises(QuotaGuardError, match="9,001 of its 10,000"):
        connector.list_owners()


@responses.activate
def test_duplicate_without_an_id_is_resolved_by_one_query() -> None:
    responses.post(f"{API}/composite/sobjects", json=[{"success": False, "errors": [
        {"statusCode": "DUPLICATE_VALUE", "message": "duplicate value found", "fields": []}]}])
    lookup = responses.get(f"{API}/query/", json={"totalSize": 1, "done": True, "records": [
        {"Id": "00T000000000001AAA", "LeadLoop_Proposal_Id__c": "p1"}]})
    (result,) = _session_connector().upsert_review_tasks([ReviewTaskRequest(
        "p1", ProposalKind.DRAFT, "00Q1", "0051", "Hello", "Hi", date(2025, 6, 3))])
    assert (result.task_id, result.created, result.error) == ("00T000000000001AAA", False, None)
    assert "LeadLoop_Proposal_Id__c IN ('p1')" in str(lookup.calls[0].request.url).replace(
        "+", " ").replace("%28", "(").replace("%29", ")").replace("%27", "'")


@responses.activate
def test_collection_answer_of_the_wrong_length_is_an_error() -> None:
    responses.patch(f"{API}/composite/sobjects", json=[])
    from connectors.base import ScoreWrite

    with pytest.raises(ConnectorError, match="one result per record"):
        _session_connector().write_scores([ScoreWrite("00Q1", 50, "B")])


@responses.activate
def test_email_simple_refusal_is_reported_and_its_log_marked_failed() -> None:
    responses.get(f"{API}/query/", json={"totalSize": 0, "done": True, "records": []})
    create = responses.post(f"{API}/composite/sobjects", json=[
        {"id": "00T000000000009AAA", "success": True, "errors": []}])
    marks = responses.patch(f"{API}/composite/sobjects", json=[
        {"id": "00T000000000009AAA", "success": True, "errors": []}])
    responses.post(f"{API}/actions/standard/emailSimple", json=[{
        "actionName": "emailSimple", "isSuccess": False,
        "errors": [{"statusCode": "INVALID_EMAIL_ADDRESS", "message": "bad address"}]}])
    with pytest.raises(ConnectorError, match="emailSimple refused email k1: "
                                             "INVALID_EMAIL_ADDRESS"):
        _session_connector().send_email(OutgoingEmail("k1", "00Q1", "x@y.example", "s", "b",
                                                      "0051"))
    (logged,) = json.loads(create.calls[0].request.body or b"{}")["records"]
    assert (logged["LeadLoop_Email_Key__c"], logged["LeadLoop_Send_Status__c"],
            logged["Status"]) == ("k1", "Pending", "In Progress")
    states = [json.loads(c.request.body or b"{}")["records"][0]["LeadLoop_Send_Status__c"]
              for c in marks.calls]
    assert states == ["Sending", "Failed"]
    send = next(c for c in responses.calls if "emailSimple" in c.request.url)
    assert json.loads(send.request.body or b"{}")["inputs"][0]["logEmailOnSend"] is False


def test_settings_build_with_no_environment_and_read_nested_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().salesforce.auth == "jwt"
    monkeypatch.setenv("LEADLOOP_SALESFORCE__AUTH", "client_credentials")
    monkeypatch.setenv("LEADLOOP_SALESFORCE__CLIENT_CREDENTIALS__CONSUMER_SECRET", "s3cret")
    monkeypatch.setenv("LEADLOOP_SALESFORCE__BULK_THRESHOLD", "500")
    settings = Settings()
    assert settings.salesforce.auth == "client_credentials"
    assert settings.salesforce.bulk_threshold == 500
    secret = settings.salesforce.client_credentials.consumer_secret
    assert secret is not None and secret.get_secret_value() == "s3cret"
    assert "s3cret" not in json.dumps(settings.masked(), default=str)


def test_a_wrong_field_map_says_what_is_expected() -> None:
    with pytest.raises(ValidationError, match="unknown lead field.*shoe_size"):
        SalesforceConfig(field_map={"email": "Email", "owner_id": "OwnerId",
                                    "shoe_size": "Shoe__c"})
    with pytest.raises(ValidationError, match="owner_id must be mapped"):
        SalesforceConfig(field_map={"email": "Email"})
