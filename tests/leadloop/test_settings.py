from __future__ import annotations

from pathlib import Path

import pytest

from leadloop.errors import SettingsError
from leadloop.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in __import__("os").environ if n.startswith("LEADLOOP_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_use_embedded_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.store_url == f"sqlite:///{tmp_path / '.leadloop' / 'leadloop.db'}"
    assert settings.sandbox_file == Path(".leadloop") / "sandbox.db"
    assert settings.drafter == "template"


def test_env_overrides_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "leadloop.toml").write_text('drafter = "openai:gpt-4o-mini"\ntask_due_days = 5\n')
    monkeypatch.setenv("LEADLOOP_TASK_DUE_DAYS", "3")
    settings = load_settings()
    assert (settings.drafter, settings.task_due_days) == ("openai:gpt-4o-mini", 3)


def test_config_file_named_by_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    other = tmp_path / "team.toml"
    other.write_text('draft_tiers = ["a"]\n')
    monkeypatch.setenv("LEADLOOP_CONFIG", str(other))
    assert load_settings().draft_tiers == ["A"]


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADLOOP_LLM_API_KEY", "sk-very-secret")
    monkeypatch.setenv("LEADLOOP_DATABASE_URL", "postgresql+psycopg://ops:hunter2@db/leadloop")
    shown = load_settings().masked()
    assert "sk-very-secret" not in str(shown) and "hunter2" not in str(shown)
    assert shown["llm_api_key"] == "**********"
    assert shown["database_url"] == "postgresql+psycopg://ops:***@db/leadloop"


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        ("LEADLOOP_MAX_DRAFTS_PER_RUN", "lots", "setting max_drafts_per_run "
         "(LEADLOOP_MAX_DRAFTS_PER_RUN): Input should be a valid integer"),
        ("LEADLOOP_API_PORT", "70000", "setting api_port (LEADLOOP_API_PORT)"),
        ("LEADLOOP_DATABASE_URL", "mysql://x", "expected a sqlite:/// or postgresql"),
        ("LEADLOOP_DRAFT_TIERS", '["A", "Z"]', "expected tiers among A, B, C, D"),
        ("LEADLOOP_CRM", "pipedrive", "setting crm (LEADLOOP_CRM)"),
    ],
)
def test_bad_setting_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2


def test_unknown_key_in_toml_is_named(tmp_path: Path) -> None:
    (tmp_path / "leadloop.toml").write_text("drafterr = 'template'\n")
    with pytest.raises(SettingsError, match="unknown setting 'drafterr'"):
        load_settings()


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "leadloop.toml").write_text("drafter = 'template\n")
    with pytest.raises(SettingsError, match=r"leadloop.toml: not valid TOML"):
        load_settings()
