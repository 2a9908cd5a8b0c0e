"""`make run`: the whole product on one machine, on the embedded default.

Starts a real Temporal dev server (persisting to CADENCE_DATA_DIR), migrates the SQLite
database, loads the default cadences, then runs the worker and the API. Ctrl-C stops all;
running it again resumes every cadence where it was.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from api.auth import bootstrap
from config import get_settings
from persistence.db import database_for
from persistence.migrate import upgrade
from scripts.load_cadences import load

BIN = Path(sys.executable).parent


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


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # a SIGTERM (a supervisor, `timeout`) stops everything like Ctrl-C


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    settings = get_settings()
    data = settings.cadence_data_dir
    data.mkdir(parents=True, exist_ok=True)
    host, _, port = settings.temporal_address.rpartition(":")
    print("Preparing the database ...", flush=True)
    upgrade(settings.resolved_database_url)
    load(url=settings.resolved_database_url)
    db = database_for(settings.resolved_database_url)
    bootstrap.from_settings(db, settings)
    first = bootstrap.first_run(db)  # an empty database: the first admin key and login, shown once
    procs: list[subprocess.Popen] = []
    log = open(data / "temporal.log", "ab")
    api = f"http://{settings.cadence_api_host}:{settings.cadence_api_port}"
    procs.append(subprocess.Popen(
        [str(BIN / "temporal"), "server", "start-dev", "--db-filename", str(data / "temporal.db"),
         "--ip", host or "127.0.0.1", "--port", port, "--ui-port", str(settings.temporal_ui_port),
         "--namespace", settings.temporal_namespace, "--log-level", "warn",
         "--ui-codec-endpoint", f"{api}/codec"],  # history is encrypted: the UI decodes through the API
        stdout=log, stderr=log, start_new_session=True))
    try:
        wait_for_port(host or "127.0.0.1", int(port))
        procs.append(subprocess.Popen([sys.executable, "worker.py"], start_new_session=True))
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:app", "--host", settings.cadence_api_host,
             "--port", str(settings.cadence_api_port), "--log-level", "warning"], start_new_session=True))
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
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGINT)
        for p in reversed(procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
