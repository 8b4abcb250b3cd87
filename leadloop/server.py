"""`leadloop serve`: the review API under uvicorn, one or more worker processes.

With several workers uvicorn shares one listening socket between them, and whichever worker
wakes first takes every connection waiting: clients that keep their connections open (CRM
extensions, scripts, a proxy's upstream pool) can end up 13 on one worker and 3 on the
other, one core busy and one idle. So on Linux each worker here binds its own socket to the
port with SO_REUSEPORT, and the kernel spreads new connections across them. A worker that
dies is started again; SIGINT or SIGTERM stops them all.

Why not gunicorn with uvicorn workers and ``--reuse-port``: since gunicorn 24 that also gives
each worker its own SO_REUSEPORT socket, but the worker binds and listens before it builds
the app, so connections the kernel hands a restarted worker wait while it imports and builds
(here the app is built first, then the socket opened). Its ``preload_app`` would build the
app, with its database engine and pool, in the master and fork it into every worker. Both
are worse than the few lines below.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from types import FrameType

import uvicorn

APP = "leadloop.asgi:create"
BACKLOG = 2048
log = logging.getLogger(__name__)


def serve(*, host: str, port: int, workers: int, access_log: bool) -> None:
    """Run the API until SIGINT or SIGTERM."""
    if workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(APP, factory=True, host=host, port=port, workers=workers,
                    access_log=access_log, log_config=None)
        return
    _check_port_free(host, port)
    Supervisor(host=host, port=port, workers=workers, access_log=access_log).run()


def _check_port_free(host: str, port: int) -> None:
    # Without this, a port held by another program without SO_REUSEPORT fails in every
    # worker; one clear error here is better.
    with _listening_socket(host, port, reuse_port=False):
        pass


def _listening_socket(host: str, port: int, *, reuse_port: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(BACKLOG)
    return sock


def _worker(host: str, port: int, access_log: bool) -> None:
    """One worker process: its own socket on the shared port, its own event loop."""
    config = uvicorn.Config(APP, factory=True, access_log=access_log, log_config=None)
    # Build the app first: the kernel hands connections to a socket as soon as it listens,
    # and a restarted worker should not hold them while it starts.
    config.load()
    sock = _listening_socket(host, port)
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    """Starts the workers, starts again any that dies, and stops them all on a signal."""

    def __init__(self, *, host: str, port: int, workers: int, access_log: bool) -> None:
        self.args = (host, port, access_log)
        self.count = workers
        self.context = multiprocessing.get_context("spawn")
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self.stopping = False

    def _start(self) -> multiprocessing.process.BaseProcess:
        process = self.context.Process(target=_worker, args=self.args, daemon=False)
        process.start()
        return process

    def _stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> None:
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGTERM, self._stop)
        self.processes = [self._start() for _ in range(self.count)]
        while not self.stopping:
            time.sleep(0.2)
            for n, process in enumerate(self.processes):
                if not process.is_alive() and not self.stopping:
                    log.warning("worker %s stopped (exit code %s); starting another",
                                process.pid, process.exitcode)
                    self.processes[n] = self._start()
        for process in self.processes:
            process.terminate()  # SIGTERM: uvicorn finishes the requests under way
        deadline = time.monotonic() + 30
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
