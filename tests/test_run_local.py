"""`make run` as a person uses it: it starts everything, stops everything with it however it is
stopped (Ctrl-C, SIGTERM, the terminal closing, or `kill -9`), and the next run starts clean."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.live import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent


def children(pid: int) -> set[int]:
    """Every descendant of `pid` (Linux /proc)."""
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                kids = {int(k) for k in (task / "children").read_text().split()}
            except OSError:
                continue
            todo += list(kids - found)
            found |= kids
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except OSError:
        return False
    return state != "Z"


def start(tmp_path: Path, ports: dict[str, int], command: list[str]) -> subprocess.Popen:
    env = {**os.environ, "CADENCE_DATA_DIR": str(tmp_path / "data"), "CADENCE_API_PORT": str(ports["api"]),
           "TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}", "TEMPORAL_UI_PORT": str(ports["ui"]),
           "CADENCE_PUBLIC_URL": f"http://127.0.0.1:{ports['api']}", "DATABASE_URL": ""}
    env.pop("DATABASE_URL")
    # Its own process group, as a terminal gives a command: Ctrl-C reaches the whole group.
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def wait_running(proc: subprocess.Popen, timeout: float = 90) -> str:
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if line.startswith("Press Ctrl-C to stop."):
            return "".join(seen)
    raise AssertionError("make run did not come up:\n" + "".join(seen))


def wait_gone(pids: set[int], timeout: float = 45) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.2)
    return {p for p in pids if alive(p)}


@pytest.mark.parametrize("how", ["kill -9 of make run", "the terminal closing", "SIGTERM to make"])
def test_nothing_of_make_run_outlives_it_and_the_next_run_starts_clean(tmp_path, how):
    ports = {"api": free_port(), "temporal": free_port(), "ui": free_port()}
    make = ["make", "--no-print-directory", "run"]
    run = start(tmp_path, ports, make)
    try:
        banner = wait_running(run)
        assert "export CADENCE_API_KEY=cad_" in banner  # a new database: the first key, once
        tree = children(run.pid)
        assert len(tree) >= 4, tree  # python, the Temporal server, the worker, the API
        if how == "the terminal closing":  # the kernel sends SIGHUP to the terminal's foreground group
            os.killpg(run.pid, signal.SIGHUP)
        else:
            run.send_signal({"kill -9 of make run": signal.SIGKILL, "SIGTERM to make": signal.SIGTERM}[how])
        assert wait_gone(tree) == set(), f"left running after {how}"
    finally:
        for pid in children(run.pid) | {run.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        run.wait(10)
    again = start(tmp_path, ports, make)  # the ports are free and every cadence resumes
    try:
        banner = wait_running(again)
        assert "export CADENCE_API_KEY" not in banner  # shown once only
        tree = children(again.pid)
        os.killpg(again.pid, signal.SIGINT)  # Ctrl-C
        assert again.wait(60) is not None
        assert wait_gone(tree) == set()
    finally:
        for pid in children(again.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def test_a_port_in_use_is_named(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ports = {"api": busy.getsockname()[1], "temporal": free_port(), "ui": free_port()}
        proc = start(tmp_path, ports, [sys.executable, "-m", "scripts.run_local"])
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0 and f"127.0.0.1:{ports['api']} is in use" in out
