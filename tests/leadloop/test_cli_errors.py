"""One wording for the same mistake: unknown ids with 'did you mean', files named with what is
wrong, keys only for owners the CRM has, imports that say which columns they left out."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.sandbox import SandboxCRM
from leadloop.cli import app
from leadloop.cli.suggest import unknown_id
from leadloop.errors import UserFileError
from leadloop.files import read_user_text

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(cli_home: Path) -> Path:
    return cli_home


@pytest.mark.parametrize(("content", "problem"), [
    (None, "no such file"), ("folder", "is a folder, not a file"), (b"", "is empty"),
    (b" \n\t\n", "is empty"),
    ("caf\xe9".encode("latin-1"), "is not UTF-8 text (byte 3); save it as UTF-8"),
    (b"a\x00b", "is binary, not text"),
])
def test_the_file_reader_names_the_file_and_what_is_wrong(
    tmp_path: Path, content: bytes | str | None, problem: str
) -> None:
    path = tmp_path / "weights.toml"
    if content == "folder":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(UserFileError) as caught:
        read_user_text(path, what="weights file", expected="a TOML weights file")
    assert str(caught.value) == (f"weights file {path}: {problem}; "
                                 "expected a TOML weights file")
    assert caught.value.exit_code == 2


def test_the_file_reader_drops_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_bytes("\ufeffversion = 1\n".encode())
    assert read_user_text(path, what="weights file") == "version = 1\n"


def test_unknown_id_suggests_the_closest_and_says_where_the_list_is() -> None:
    known = ["m-20261101-a1b2c3", "m-20261102-d4e5f6"]
    assert str(unknown_id("model version", "m-20261101-a1b2c4", known,
                          listing="leadloop model list")) == (
        "no model version 'm-20261101-a1b2c4'; did you mean 'm-20261101-a1b2c3'? "
        "leadloop model list lists them")
    assert "did you mean 'm-20261102-d4e5f6'" in str(
        unknown_id("model version", "m-20261102", known, listing="x"))
    assert "there are none yet" in str(unknown_id("task", "T1", [], listing="x"))


def test_a_task_typo_gets_did_you_mean(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    crm = SandboxCRM(data_dir / "sandbox.db")
    crm.seed(20, seed=1)
    assert runner.invoke(app, ["run"]).exit_code == 0
    task = crm.list_tasks(status=None)[0].task_id
    typo = task[:-1] + ("0" if task[-1] != "0" else "1")
    if typo in {t.task_id for t in crm.list_tasks(status=None)}:
        pytest.skip("the typo is itself a task")
    result = runner.invoke(app, ["review", "show", typo])
    assert result.exit_code == 2
    assert f"no task '{typo}'; did you mean" in result.output
    assert "leadloop review list --all lists them" in result.output


def test_keys_create_checks_the_owner_exists_in_the_crm(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    crm = SandboxCRM(data_dir / "sandbox.db")
    crm.seed(20, seed=1)
    owner = crm.list_owners()[0].owner_id
    refused = runner.invoke(app, ["keys", "create", "--role", "rep", "--owner", "NOPE"])
    assert refused.exit_code == 2 and "no CRM owner 'NOPE'" in refused.output
    assert "created key" not in refused.output
    made = runner.invoke(app, ["keys", "create", "--role", "rep", "--owner", owner])
    assert made.exit_code == 0 and "created key 1 (rep)" in made.output


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_a_config_file_that_is_not_there_is_an_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / ("gone.toml" if kind == "missing" else "conf.d")
    if kind == "folder":
        path.mkdir()
    result = runner.invoke(app, ["config", "show"], env={"LEADLOOP_CONFIG": str(path)})
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: config file {path} (LEADLOOP_CONFIG): "
        f"{'no such file' if kind == 'missing' else 'is a folder, not a file'}; "
        "expected a TOML file of settings")


def test_sandbox_import_names_the_columns_it_did_not_use(tmp_path: Path) -> None:
    export = tmp_path / "leads.csv"
    export.write_text("id,Email,annual_revenue,page_views,last_activity,Owner\n"
                      "1,ann@acme.example,1000,5,2026-10-01,Dana\n", encoding="utf-8")
    result = runner.invoke(app, ["sandbox", "import", str(export)])
    assert result.exit_code == 0, result.output
    assert ("columns not used (no lead field takes them): id, annual_revenue, page_views"
            in result.output)
    [lead] = SandboxCRM(tmp_path / "data" / "sandbox.db").list_leads()
    assert [e["at"][:10] for e in lead["events"]] == ["2026-10-01"]
