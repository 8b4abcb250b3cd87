"""Run the mistaken commands a user might type and count how each one ends.

Every command here is a mistake (a missing, empty, binary or folder path, a bad setting,
an unknown id, a number out of range). Each should end with a short message naming the
thing and a non-zero exit. The script counts, over the real entry point
(`python -m leadloop` in a fresh process):

- traceback: a Python traceback reached the user;
- silent 0: the command exited 0 although the input was wrong;
- one-liner: non-zero exit, no traceback, at most three lines of output;
- other: non-zero exit but a longer message (a usage panel, a table...).

Run: nice .venv/bin/python benchmarks/mistaken_commands.py [--show]
It never fails; it prints the figures and, with --show, every command's output.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

BAD_WEIGHTS_RANGE = """\
version = "bad-range"
[tiers]
hot = 70
warm = 40
[[criteria]]
id = "size"
label = "Company size"
field = "employees"
points = 10
between = [500, 10]
"""

BAD_WEIGHTS_NO_CRITERIA = """\
version = "no-criteria"
[tiers]
hot = 70
warm = 40
"""


def fixtures(root: Path) -> dict[str, Path]:
    """The files and folders the mistaken commands point at."""
    files = {
        "missing": root / "nope" / "missing.toml",
        "folder": root / "a-folder",
        "empty": root / "empty.csv",
        "binary": root / "binary.csv",
        "latin1": root / "latin1.toml",
        "bracket": root / "leads[1].csv",
        "bracket_missing": root / "[red]gone[/red].csv",
        "range": root / "range.toml",
        "no_criteria": root / "no_criteria.toml",
        "good_csv": root / "leads.csv",
    }
    files["folder"].mkdir(exist_ok=True)
    files["empty"].write_text("", encoding="utf-8")
    files["binary"].write_bytes(bytes(range(256)) * 4)
    files["latin1"].write_bytes('version = "café"\n'.encode("latin-1"))
    files["bracket"].write_text("name;[x]\n\x00\x01;2\n", encoding="utf-8")
    files["range"].write_text(BAD_WEIGHTS_RANGE, encoding="utf-8")
    files["no_criteria"].write_text(BAD_WEIGHTS_NO_CRITERIA, encoding="utf-8")
    files["good_csv"].write_text(
        "id,email,company,annual_revenue,page_views,last_activity,converted\n"
        + "".join(f"{i},p{i}@acme.example,Acme,{i * 1000},{i},2026-01-0{i % 9 + 1},{i % 2}\n"
                  for i in range(1, 30)),
        encoding="utf-8")
    return files


def commands(f: dict[str, Path]) -> list[tuple[str, list[str], dict[str, str]]]:
    """(label, argv, extra environment) for every mistaken command."""
    s = str
    w = "LEADLOOP_WEIGHTS_PATH"
    out: list[tuple[str, list[str], dict[str, str]]] = []
    for step in ("sync", "score", "serve"):
        for kind in ("missing", "folder", "latin1", "empty"):
            out.append((f"{step} with a {kind} weights file", [step], {w: s(f[kind])}))
    out += [
        ("weights file: between low > high", ["score"], {w: s(f["range"])}),
        ("weights file: no criteria", ["score"], {w: s(f["no_criteria"])}),
        ("weights publish missing", ["weights", "publish", s(f["missing"]), "--note", "x"], {}),
        ("weights publish folder", ["weights", "publish", s(f["folder"]), "--note", "x"], {}),
        ("weights publish binary", ["weights", "publish", s(f["binary"]), "--note", "x"], {}),
        ("weights preview missing", ["weights", "preview", s(f["missing"])], {}),
        ("weights diff unknown version", ["weights", "diff", "w-nope", "w-nada"], {}),
        ("train --csv missing", ["train", "--csv", s(f["missing"]), "--target", "y"], {}),
        ("train --csv empty", ["train", "--csv", s(f["empty"]), "--target", "y"], {}),
        ("train --csv binary", ["train", "--csv", s(f["binary"]), "--target", "y"], {}),
        ("train --csv folder", ["train", "--csv", s(f["folder"]), "--target", "y"], {}),
        ("train --split nope", ["train", "--split", "nope"], {}),
        ("sandbox import path with [", ["sandbox", "import", s(f["bracket"])], {}),
        ("sandbox import missing path with [", ["sandbox", "import",
                                                s(f["bracket_missing"])], {}),
        ("sandbox import missing", ["sandbox", "import", s(f["missing"])], {}),
        ("sandbox import folder", ["sandbox", "import", s(f["folder"])], {}),
        ("sandbox import empty", ["sandbox", "import", s(f["empty"])], {}),
        ("sandbox import binary", ["sandbox", "import", s(f["binary"])], {}),
        ("sandbox seed --leads -5", ["sandbox", "seed", "--leads", "-5"], {}),
        ("LEADLOOP_CONFIG missing", ["config", "show"], {"LEADLOOP_CONFIG": s(f["missing"])}),
        ("LEADLOOP_CONFIG folder", ["config", "show"], {"LEADLOOP_CONFIG": s(f["folder"])}),
        ("LEADLOOP_CONFIG binary", ["config", "show"], {"LEADLOOP_CONFIG": s(f["binary"])}),
        ("unknown setting value", ["config", "show"], {"LEADLOOP_API_PORT": "99999999"}),
        ("keys create --owner NOPE", ["keys", "create", "--role", "rep", "--owner", "NOPE"], {}),
        ("keys revoke unknown", ["keys", "revoke", "99999"], {}),
        ("keys revoke negative", ["keys", "revoke", "-1"], {}),
        ("model promote unknown", ["model", "promote", "m-nope"], {}),
        ("review show unknown", ["review", "show", "T-NOPE"], {}),
        ("review approve unknown", ["review", "approve", "T-NOPE"], {}),
        ("review score out of range", ["review", "score", "T-NOPE", "500"], {}),
        ("review score unknown", ["review", "score", "T-NOPE", "50"], {}),
        ("policy check missing", ["policy", "check", s(f["missing"])], {}),
        ("policy check folder", ["policy", "check", s(f["folder"])], {}),
        ("policy check binary", ["policy", "check", s(f["binary"])], {}),
        ("drafts disable unknown", ["drafts", "disable", "no-such-rule"], {}),
        ("templates file missing", ["propose"], {"LEADLOOP_TEMPLATES_PATH": s(f["missing"])}),
        ("policy file folder", ["propose"], {"LEADLOOP_POLICY_PATH": s(f["folder"])}),
        ("product facts binary", ["propose"],
         {"LEADLOOP_PRODUCT_FACTS_PATH": s(f["binary"])}),
        ("labels export --format xml", ["labels", "export", "--format", "xml"], {}),
        ("labels export --since garbage", ["labels", "export", "--since", "garbage"], {}),
        ("demo --crm nope", ["demo", "--crm", "nope"], {}),
        ("unknown command", ["sinc"], {}),
    ]
    return out


def classify(rc: int | None, output: str) -> str:
    """How a mistaken command ended."""
    if rc is None:
        return "hang"
    if "Traceback (most recent call last)" in output:
        return "traceback"
    if rc == 0:
        return "silent 0" if not output.strip() else "exit 0"
    lines = [line for line in output.splitlines() if line.strip()]
    return "one-liner" if len(lines) <= 3 else "other"


def main() -> None:
    show = "--show" in sys.argv
    repo = Path(__file__).resolve().parents[1]
    tally: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        f = fixtures(root)
        base = {k: v for k, v in os.environ.items() if not k.startswith("LEADLOOP_")}
        base["LEADLOOP_DATA_DIR"] = str(root / "data")
        base["PYTHONPATH"] = str(repo)
        seed = subprocess.run([sys.executable, "-m", "leadloop", "sandbox", "seed", "--leads",
                               "30"], cwd=root, env=base, capture_output=True, text=True,
                              check=False)
        if seed.returncode != 0:
            print("could not seed the sandbox:", seed.stderr[-400:])
        listing = []
        for label, argv, env in commands(f):
            try:
                done = subprocess.run([sys.executable, "-m", "leadloop", *argv], cwd=root,
                                      env={**base, **env}, capture_output=True, text=True,
                                      timeout=60, check=False)
                rc: int | None = done.returncode
                output = done.stdout + done.stderr
            except subprocess.TimeoutExpired:
                rc, output = None, ""
            kind = classify(rc, output)
            tally[kind] += 1
            listing.append((kind, label, rc, output))
    total = sum(tally.values())
    for kind, label, rc, output in listing:
        print(f"{kind:>10}  exit {rc}  {label}")
        if show or kind not in ("one-liner",):
            shown = output.strip().splitlines()
            for line in shown[-3:] if kind == "traceback" else shown[:4]:
                print(f"{'':14}| {line[:150]}")
    print()
    print(f"{total} mistaken commands:")
    for kind in ("one-liner", "other", "traceback", "silent 0", "exit 0", "hang"):
        print(f"  {kind:>10}: {tally[kind]:3d}  ({tally[kind] / total:.0%})")


if __name__ == "__main__":
    main()
