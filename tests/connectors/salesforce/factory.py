"""The Salesforce connector under contract: the real connector against the sandbox's face."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from connectors.salesforce.sandbox_link import connect_to_sandbox
from connectors.sandbox import SandboxCRM
from tests.connectors.harness import ContractCRM, FrozenClock, SandboxLeadAdmin, SandboxRep


def salesforce_contract(tmp_path: Path, *, page_size: int = 5) -> ContractCRM:
    """A frozen-clock sandbox behind the Salesforce face; reps and admins act on the sandbox.

    A small page size makes every contract test follow ``nextRecordsUrl`` paging.
    """
    crm = SandboxCRM(tmp_path / "contract.db",
                     clock=FrozenClock(datetime(2025, 6, 1, tzinfo=UTC)))
    crm.seed(0)
    stack = ExitStack()
    stack.callback(crm.close)
    connector = stack.enter_context(connect_to_sandbox(crm, retry_wait_s=0))
    connector.face.page_size = page_size
    return ContractCRM(connector=connector, rep=SandboxRep(crm), leads=SandboxLeadAdmin(crm),
                       close=stack.close)
