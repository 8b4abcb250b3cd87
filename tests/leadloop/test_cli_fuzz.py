"""Fuzzing the CLI: hypothesis builds mistaken commands (paths that don't exist, folders,
empty, binary and non-UTF-8 files, markup-like names, huge and negative numbers, unknown ids,
bad setting values) and runs them through the real entry point with typer's CliRunner.
Each must end without a traceback, with a non-zero exit and at most three lines naming the
thing that is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from leadloop.cli import app
from leadloop.cli.common import settings as leadloop_settings

runner = CliRunner()
MARKUP_NAMES = ["[red]x[/red]", "a[b", "[/]", "[bold", "x]y"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fuzz")
    made = {
        "missing": root / "nope" / "missing.toml",
        "folder": root / "a folder",
        "empty": root / "empty.toml",
        "binary": root / "binary.csv",
        "latin1": root / "latin1.toml",
        "blank": root / "blank.csv",
    }
    made["folder"].mkdir()
    made["empty"].write_bytes(b"")
    made["binary"].write_bytes(bytes(range(256)) * 8)
    made["latin1"].write_bytes('note = "caf\xe9"\n'.encode("latin-1"))
    made["blank"].write_text("\n \n\t\n", encoding="utf-8")
    for i, name in enumerate(MARKUP_NAMES):
        made[f"markup{i}"] = root / f"{name}.csv"  # missing, with a markup-like name
    return made


@pytest.fixture
def data_dir(cli_home: Path) -> Path:
    return cli_home


IDS = st.one_of(st.sampled_from(["m-nope", "T999", "[red]T1[/red]", "w-", "0", "ü-id", "-x"]),
                st.from_regex(r"[A-Za-z0-9\[\]/_-]{1,20}", fullmatch=True))
HUGE_OR_NEGATIVE = st.one_of(st.integers(max_value=-1), st.integers(min_value=10**7))
BAD_SETTING_VALUE = st.one_of(st.sampled_from(["", "many", "-5", "1e999", "[red]x[/red]",
                                               "NaN", "99999999999999999999", "\x7f"]),
                              st.integers(min_value=10**10).map(str))


@st.composite
def mistakes(draw: st.DrawFn, files: dict[str, Path]) -> tuple[list[str], dict[str, str],
                                                                list[str]]:
    """(arguments, environment, words one of which the message must contain)."""
    path = draw(st.sampled_from(sorted(files)))
    bad = files[path]
    bad_names = [str(bad), bad.name]
    some_id = draw(IDS)
    number = draw(HUGE_OR_NEGATIVE)
    setting = draw(st.sampled_from(["LEADLOOP_API_PORT", "LEADLOOP_MAX_DRAFTS_PER_RUN",
                                    "LEADLOOP_SENDING__WINDOW", "LEADLOOP_PROPOSAL_TTL_HOURS",
                                    "LEADLOOP_DRAFT_TIERS"]))
    value = draw(BAD_SETTING_VALUE)
    setting_words = [setting, setting.removeprefix("LEADLOOP_").lower().replace("__", ".")]
    file_setting = draw(st.sampled_from(["LEADLOOP_WEIGHTS_PATH", "LEADLOOP_POLICY_PATH",
                                         "LEADLOOP_TEMPLATES_PATH",
                                         "LEADLOOP_PRODUCT_FACTS_PATH", "LEADLOOP_CONFIG"]))
    step = draw(st.sampled_from(["sync", "score", "propose", "serve", "run"]))
    # An empty settings file is a valid one (every setting at its default); not a mistake.
    config_bad = files["folder"] if path in ("empty", "blank") else bad
    file_value = str(config_bad if file_setting == "LEADLOOP_CONFIG" else bad)
    cases: list[tuple[list[str], dict[str, str], list[str]]] = [
        (["weights", "publish", str(bad), "--note", "x"], {}, bad_names),
        (["weights", "preview", str(bad)], {}, bad_names),
        (["sandbox", "import", str(bad)], {}, bad_names),
        (["train", "--csv", str(bad), "--target", "won"], {}, bad_names),
        (["policy", "check", str(bad)], {}, bad_names),
        ([step], {file_setting: file_value}, [file_value, Path(file_value).name]),
        (["review", "show", some_id], {}, [some_id, repr(some_id)[1:-1]]),
        (["review", "approve", some_id], {}, [some_id, repr(some_id)[1:-1]]),
        (["review", "score", some_id, str(number)], {}, ["score", some_id]),
        (["model", "promote", some_id], {}, [some_id, repr(some_id)[1:-1]]),
        (["drafts", "disable", some_id], {}, [some_id, repr(some_id)[1:-1]]),
        (["keys", "create", "--role", "rep", "--owner", some_id], {}, [some_id]),
        # click reads "-10" as the short options "-1" "-0": it names "-1", the first of them.
        (["keys", "revoke", str(number)], {}, [str(number), str(number)[:2], "key_id"]),
        (["sandbox", "seed", "--leads", str(number)], {}, ["--leads"]),
        (["demo", "--leads", str(number)], {}, ["--leads"]),
        (["labels", "export", "--since", some_id], {}, ["--since"]),
        (["labels", "export", "--format", some_id], {}, ["--format"]),
        (["config", "show"], {setting: value}, setting_words),
        (["send-now", some_id], {}, [some_id, repr(some_id)[1:-1]]),
        (["suppress", "add", some_id], {}, [some_id, repr(some_id)[1:-1]]),
        (["worker"], {}, ["LEADLOOP_BROKER_URL"]),
        (["scheduler"], {}, ["LEADLOOP_BROKER_URL"]),
        (["worker"], {"LEADLOOP_BROKER_URL": value}, ["LEADLOOP_BROKER_URL", "broker_url"]),
    ]
    return draw(st.sampled_from(cases))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_mistaken_command_is_one_line_naming_the_thing(
    data_dir: Path, files: dict[str, Path], data: st.DataObject
) -> None:
    args, env, names = data.draw(mistakes(files))
    leadloop_settings.cache_clear()
    result = runner.invoke(app, args, env=env)
    shown = f"leadloop {' '.join(args)} {env}\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{result.exception!r}\n{shown}")
    assert "Traceback" not in result.output, shown
    assert result.exit_code != 0, shown
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 3, shown
    assert any(name in result.output for name in names if name), shown


def test_an_unexpected_error_names_its_log_and_debug_shows_it(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadloop.cli import config

    def broken() -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(config, "settings", broken)
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    line = result.output.strip()
    assert len(line.splitlines()) == 1 and "unexpected RuntimeError: boom" in line
    log = Path(line.split("the traceback is in ")[1].split(" (")[0])
    assert "Traceback" in log.read_text("utf-8") and "second line" in log.read_text("utf-8")
    debug = runner.invoke(app, ["config", "show"], env={"LEADLOOP_DEBUG": "1"})
    assert debug.exit_code == 1 and "Traceback" in debug.output


@pytest.mark.parametrize(("args", "code"), [
    (["sinc"], 2),  # usage
    (["review", "score", "T1", "500"], 2),  # a number out of range
    (["model", "promote", "m-nope"], 2),  # an unknown id
])
def test_exit_codes(data_dir: Path, args: list[str], code: int) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert len(result.output.strip().splitlines()) == 1
