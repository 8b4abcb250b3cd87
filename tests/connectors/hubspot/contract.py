"""The HubSpot entry of the connector contract suite: the real connector against the face."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from connectors.hubspot import HubSpotConfig, HubSpotConnector
from connectors.sandbox import SandboxCRM
from connectors.sandbox.hubspot_face import HubSpotFace, hubspot_id, sandbox_id
from connectors.smtp import SmtpConfig, SmtpSender

TOKEN = "contract-token"


def face_config(face: HubSpotFace, **overrides: Any) -> HubSpotConfig:
    """A connector config pointed at a started face, retrying fast."""
    settings: dict[str, Any] = {"access_token": SecretStr(TOKEN), "base_url": face.base_url,
                                "retry_backoff_s": 0.01, **overrides}
    return HubSpotConfig(**settings)


class FaceRep:
    """A rep deciding HubSpot tasks: acts on the sandbox tasks under the face."""

    def __init__(self, crm: SandboxCRM) -> None:
        self.crm = crm

    def approve(self, task_id: str, *, by: str) -> None:
        self.crm.approve_task(_task(task_id), by=_owner(by))

    def approve_with_edit(self, task_id: str, *, by: str, subject: str, body: str) -> None:
        self.crm.start_task(_task(task_id), by=_owner(by))
        # HubSpot's rich-text editor saves an edited task body as HTML paragraphs.
        self.crm.approve_task(_task(task_id), by=_owner(by), email_subject=subject,
                              email_body=editor_html(body))

    def approve_with_notes(self, task_id: str, *, by: str, notes: str) -> None:
        self.crm.approve_task(_task(task_id), by=_owner(by), description=notes)

    def reject(self, task_id: str, *, by: str, reason: str) -> None:
        self.crm.reject_task(_task(task_id), by=_owner(by), reason=reason)

    def set_score(self, task_id: str, *, by: str, score: int) -> None:
        self.crm.set_final_score(_task(task_id), by=_owner(by), score=score)


class FaceLeadAdmin:
    """Leads arranged in the sandbox under the face, named by their HubSpot ids."""

    def __init__(self, crm: SandboxCRM) -> None:
        self.crm = crm

    def add_leads(self, records: Iterable[Mapping[str, Any]]) -> list[str]:
        before = set(self.crm.list_lead_ids())
        owned = [{**r, "owner_id": sandbox_id("U", str(r["owner_id"]))}
                 if str(r.get("owner_id", "")).isdigit() else dict(r) for r in records]
        self.crm.add_leads(owned)
        return [hubspot_id(i) for i in self.crm.list_lead_ids() if i not in before]

    def update_lead(self, crm_id: str, **fields: Any) -> None:
        self.crm.update_lead(_lead(crm_id), **fields)

    def delete_lead(self, crm_id: str) -> None:
        self.crm.delete_lead(_lead(crm_id))


def editor_html(text: str) -> str:
    """Text as HubSpot's task editor saves it: one escaped paragraph a line."""
    return "".join(f"<p>{html.escape(line)}</p>" for line in text.split("\n"))


def _task(task_id: str) -> str:
    return sandbox_id("T", task_id) or task_id


def _lead(crm_id: str) -> str:
    return sandbox_id("L", crm_id) or crm_id


def _owner(owner_id: str) -> str:
    return sandbox_id("U", owner_id) or owner_id


def hubspot_crm(tmp_path: Path) -> Any:
    """The contract's HubSpot CRM: the face over a sandbox on a frozen clock."""
    from aiosmtpd.controller import Controller

    from connectors.hubspot.sandbox_link import _free_port, _Sink
    from tests.connectors.harness import ContractCRM, FrozenClock

    crm = SandboxCRM(tmp_path / "contract.db", clock=FrozenClock(datetime(2025, 6, 1, tzinfo=UTC)))
    crm.seed(0)
    face = HubSpotFace(crm, tokens={TOKEN})
    face.start()
    port = _free_port()
    smtp = Controller(_Sink(), hostname="127.0.0.1", port=port)
    smtp.start()
    connector = HubSpotConnector(
        face_config(face), sender=SmtpSender(SmtpConfig(host="127.0.0.1", port=port,
                                                        security="none")))
    connector.setup()

    def close() -> None:
        smtp.stop()
        face.stop()
        crm.close()

    return ContractCRM(connector=connector, rep=FaceRep(crm), leads=FaceLeadAdmin(crm),
                       close=close)
