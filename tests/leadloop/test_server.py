"""`leadloop serve` with several workers: each on its own SO_REUSEPORT socket, a dead one
restarted, all stopped by one SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT") or not Path("/proc/self/net/tcp").exists(),
    reason="needs SO_REUSEPORT and Linux's /proc to see which worker listens")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> set[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in found.read_text().split()} if found.exists() else set()


def _workers(pid: int, port: int) -> set[int]:
    """The children of ``pid`` listening on ``port`` (the spawn context adds a helper)."""
    listening = set()
    for child in _children(pid):
        try:  # a child may be gone by the time it is read
            inodes = {os.readlink(fd)[8:-1] for fd in Path(f"/proc/{child}/fd").iterdir()
                      if os.readlink(fd).startswith("socket:[")}
            table = Path(f"/proc/{child}/net/tcp").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in table:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.split(":")[1], 16) == port and inode in inodes:
                listening.add(child)
    return listening


def _wait(predicate: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_workers_listen_apart_restart_when_killed_and_stop_together(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADLOOP_")}
    env["LEADLOOP_DATA_DIR"] = str(tmp_path)
    server = subprocess.Popen(
        [sys.executable, "-m", "leadloop", "serve", "--port", str(port), "--workers", "2",
         "--no-access-log"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: len(_workers(server.pid, port)) == 2 and _ready(base))
        first = _workers(server.pid, port)
        os.kill(next(iter(first)), signal.SIGKILL)
        _wait(lambda: len(_workers(server.pid, port)) == 2 and _workers(server.pid, port) != first)
        # A worker listens only once its app is built: every connection is answered at once.
        assert all(_ready(base) for _ in range(20))
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=40) == 0
        assert _children(server.pid) == set()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/healthz", timeout=1)
    finally:
        if server.poll() is None:
            server.kill()


def test_a_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEADLOOP_")}
        env["LEADLOOP_DATA_DIR"] = str(tmp_path)
        done = subprocess.run(
            [sys.executable, "-m", "leadloop", "serve", "--port", str(port), "--workers", "2"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
