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


def kill_all(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


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
        kill_all(children(run.pid) | {run.pid})
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
        kill_all(children(again.pid))


def test_a_port_in_use_is_named(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ports = {"api": busy.getsockname()[1], "temporal": free_port(), "ui": free_port()}
        proc = start(tmp_path, ports, [sys.executable, "-m", "scripts.run_local"])
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0 and f"127.0.0.1:{ports['api']} is in use" in out


def test_the_dev_server_registers_the_search_attributes_and_cadence_workers_starts_that_many_workers():
    from config import Settings
    from scripts.run_local import temporal_command, worker_commands
    from workflows.search_attributes import dev_server_args

    settings = Settings(_env_file=None, cadence_workers=3, cadence_worker_metrics_port=9464)
    command = temporal_command(settings)
    assert command[1:3] == ["server", "start-dev"] and command[-len(dev_server_args()):] == dev_server_args()
    workers = worker_commands(settings)
    assert [argv[1:] for argv, _ in workers] == [["worker.py"]] * 3
    # Each serves its SDK metrics on a port of its own; without the setting none is set.
    assert [env["CADENCE_WORKER_METRICS_PORT"] for _, env in workers] == ["9464", "9465", "9466"]
    assert worker_commands(Settings(_env_file=None)) == [([sys.executable, "worker.py"], {})]


def worker_processes(pid: int) -> set[int]:
    found = set()
    for child in children(pid):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"worker.py" in argv and alive(child):
            found.add(child)
    return found


def test_cadence_workers_runs_that_many_worker_processes_and_ctrl_c_stops_them_all(tmp_path, monkeypatch):
    ports = {"api": free_port(), "temporal": free_port(), "ui": free_port()}
    monkeypatch.setenv("CADENCE_WORKERS", "2")
    run = start(tmp_path, ports, [sys.executable, "-m", "scripts.run_local"])
    try:
        wait_running(run)
        deadline = time.monotonic() + 20
        while len(workers := worker_processes(run.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(workers) == 2, workers
        time.sleep(3)  # both connected and polling: neither exited
        assert worker_processes(run.pid) == workers
        tree = children(run.pid)
        os.killpg(run.pid, signal.SIGINT)
        assert run.wait(60) is not None
        assert wait_gone(tree) == set()
    finally:
        kill_all(children(run.pid) | {run.pid})
