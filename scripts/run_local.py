"""`make run`: the whole product on one machine, on the embedded default.

Starts a real Temporal dev server (persisting to CADENCE_DATA_DIR), migrates the SQLite
database, loads the default cadences, then runs the worker (CADENCE_WORKERS processes of it)
and the API. Ctrl-C stops all; running it again resumes every cadence where it was.

Nothing outlives it: the children run in sessions of their own (so one Ctrl-C reaches them in
order, through this process), and each is started with the kernel's parent-death signal, so they
stop too when this process is killed outright (SIGKILL) or its terminal closes.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from api.auth import bootstrap
from config import Settings, get_settings
from persistence.db import database_for
from persistence.migrate import upgrade
from scripts.load_cadences import load
from workflows.search_attributes import dev_server_args

BIN = Path(sys.executable).parent


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """Ask the kernel for SIGTERM when the process that started this one dies, however it dies.
    Linux only; elsewhere Ctrl-C and SIGTERM still stop everything in order."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(host: str, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"nothing answered on {host}:{port} within {timeout:.0f}s")


def first_run_note(first: dict[str, str]) -> str:
    """What a new database's credentials look like on screen; they are not shown again."""
    lines = ["First run: credentials were made and are shown only now. Keep them."]
    if "key" in first:
        lines += ["  Admin API key (paste this line into your shell; the README's examples use it):",
                  f"    export CADENCE_API_KEY={first['key']}"]
    if "email" in first:
        lines += [f"  UI login     {first['email']} / {first['password']}"]
    return "\n".join(lines) + "\n"


def temporal_command(settings: Settings) -> list[str]:
    """The Temporal dev server: persisting to the data dir, the lead workflow's search attributes
    registered, its Web UI decoding history through the API (history is encrypted)."""
    host, _, port = settings.temporal_address.rpartition(":")
    api = f"http://{settings.cadence_api_host}:{settings.cadence_api_port}"
    return [str(BIN / "temporal"), "server", "start-dev", "--db-filename",
            str(settings.cadence_data_dir / "temporal.db"), "--ip", host or "127.0.0.1", "--port", port,
            "--ui-port", str(settings.temporal_ui_port), "--namespace", settings.temporal_namespace,
            "--log-level", "warn", "--ui-codec-endpoint", f"{api}/codec", *dev_server_args()]


def worker_commands(settings: Settings) -> list[tuple[list[str], dict[str, str]]]:
    """CADENCE_WORKERS times `python worker.py`, each with what its environment must add: with
    CADENCE_WORKER_METRICS_PORT set, each serves its metrics on a port of its own (port, port + 1, ...)."""
    port = settings.cadence_worker_metrics_port
    return [([sys.executable, "worker.py"], {"CADENCE_WORKER_METRICS_PORT": str(port + i)} if port else {})
            for i in range(settings.cadence_workers)]


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM (a supervisor, `timeout`) or SIGHUP (the terminal closed): like Ctrl-C


def main() -> None:
    parent = os.getppid()
    die_with_parent()  # `make` (or the shell) killed outright: this process stops, and so its children
    if os.getppid() != parent:  # it died before the request took effect
        return
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    settings = get_settings()
    data = settings.cadence_data_dir
    data.mkdir(parents=True, exist_ok=True)
    host, _, port = settings.temporal_address.rpartition(":")
    for what, at_host, at_port in (("Temporal", host or "127.0.0.1", int(port)),
                                   ("the API", settings.cadence_api_host, settings.cadence_api_port)):
        if port_in_use(at_host, at_port):
            raise SystemExit(f"{at_host}:{at_port} is in use, so {what} cannot start there: is another Cadence "
                             "running? Stop it, or choose other ports (TEMPORAL_ADDRESS, CADENCE_API_PORT).")
    print("Preparing the database ...", flush=True)
    upgrade(settings.resolved_database_url)
    load(url=settings.resolved_database_url)
    db = database_for(settings.resolved_database_url)
    bootstrap.from_settings(db, settings)
    first = bootstrap.first_run(db)  # an empty database: the first admin key and login, shown once
    procs: list[subprocess.Popen] = []
    log = open(data / "temporal.log", "ab")
    api = f"http://{settings.cadence_api_host}:{settings.cadence_api_port}"
    procs.append(subprocess.Popen(temporal_command(settings), stdout=log, stderr=log, start_new_session=True,
                                  preexec_fn=die_with_parent))
    try:
        wait_for_port(host or "127.0.0.1", int(port))
        for command, env in worker_commands(settings):
            procs.append(subprocess.Popen(command, env={**os.environ, **env}, start_new_session=True,
                                          preexec_fn=die_with_parent))
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:app", "--host", settings.cadence_api_host,
             "--port", str(settings.cadence_api_port), "--log-level", "warning"], start_new_session=True,
            preexec_fn=die_with_parent))
        wait_for_port(settings.cadence_api_host, settings.cadence_api_port)
        print(f"\nCadence is running.\n  Leads, inbox {api}/ui\n  API docs     {api}/docs\n"
              f"  Temporal UI  http://{host or '127.0.0.1'}:{settings.temporal_ui_port}\n"
              f"  Data         {data.resolve()}\n", flush=True)
        if first:
            print(first_run_note(first), flush=True)
        print("Press Ctrl-C to stop.\n", flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        print("a process exited; stopping the rest", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nStopping ...")
    finally:
        # API first, then the worker (it finishes activities in flight), the Temporal server last;
        # a second SIGTERM or SIGHUP meanwhile must not cut that short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
