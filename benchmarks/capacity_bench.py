"""What a worker holds when many leads wait, what a waiting lead costs in history, and how the
worker's settings shape a burst of new leads.

Run from the repository root::

    .venv/bin/python -m benchmarks.capacity_bench [--leads 10000 50000] [--burst 300 [--sweep] [--repeat 3]]
                                                  [--no-history] [--no-waiting]

- **Waiting leads.** A Temporal dev server and one `python worker.py` process (emails to the outbox,
  SQLite, the CADENCE_WORKER_* settings at their defaults unless set in the environment). Lead rows
  are written in bulk, then each lead's workflow is started through the Temporal client with the
  input `POST /leads` builds (`api.lead_workflows.start_input`), on a cadence whose first step waits
  three days, so every lead ends up waiting on a timer. Once all of them have written their state,
  the worker's and the dev server's resident memory (VmRSS) is read, at each count of `--leads`
  (cumulative: 10,000, then 40,000 more for 50,000).
- **History per lead-year in nurture.** One lead runs through a year of nurture on Temporal's
  time-skipping test server; its histories, across every continue-as-new, are fetched and their
  serialized sizes summed.
- **A burst** (`--burst N`): N leads whose first email is due at once, started together on a fresh
  worker process; the time from each start to its email in the outbox, and the CPU time the worker
  and the dev server spent. `--sweep` repeats it for several worker settings (one fresh worker
  process and task queue each), `--repeat` that many times, interleaved; medians are shown.

Results go to stdout as Markdown, progress to stderr. A benchmark, not a test: it asserts only that
the work it measured was done.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from config import Settings  # noqa: E402
from persistence import cadences as cadence_store  # noqa: E402
from persistence import leads as lead_store  # noqa: E402
from persistence.db import Database  # noqa: E402
from persistence.models import Lead, OutboxEmail  # noqa: E402
from scripts.run_local import die_with_parent  # noqa: E402

WAITING = {"name": "bench-waiting", "send_window": None, "business_days": False, "on_complete": "not_interested",
           "steps": [{"id": "w-email-1", "channel": "email", "wait": "P3D", "subject": "Hello {{ first_name }}",
                      "body": "Hi {{ first_name }}"}]}
BURST = {"name": "bench-burst", "send_window": None, "business_days": False, "on_complete": "not_interested",
         "steps": [{"id": "b-email-1", "channel": "email", "wait": "PT0S", "subject": "Hello {{ first_name }}",
                    "body": "Hi {{ first_name }}"},
                   {"id": "b-email-2", "channel": "email", "wait": "P3D", "subject": "Again", "body": "Hi"}]}
# Worker settings the sweep compares, each against the defaults (config.Settings).
SWEEP = [
    {},
    {"CADENCE_WORKER_MAX_CACHED_WORKFLOWS": "0"},
    {"CADENCE_WORKER_MAX_CACHED_WORKFLOWS": "100"},
    {"CADENCE_WORKER_MAX_CACHED_WORKFLOWS": "250"},
    {"CADENCE_WORKER_MAX_CACHED_WORKFLOWS": "500"},
    {"CADENCE_WORKER_MAX_CONCURRENT_ACTIVITIES": "8"},
    {"CADENCE_WORKER_MAX_CONCURRENT_ACTIVITIES": "16"},
    {"CADENCE_WORKER_MAX_CONCURRENT_ACTIVITIES": "64"},
    {"CADENCE_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS": "10"},
    {"CADENCE_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS": "40"},
    {"CADENCE_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS": "200"},
    {"CADENCE_WORKER_WORKFLOW_TASK_POLLERS": "2", "CADENCE_WORKER_ACTIVITY_TASK_POLLERS": "2"},
    {"CADENCE_WORKER_WORKFLOW_TASK_POLLERS": "10", "CADENCE_WORKER_ACTIVITY_TASK_POLLERS": "10"},
]
START_CONCURRENCY = 64  # workflow starts in flight at once
SECRET = "bench-secret"


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc/<pid>/status (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def dev_server_pid(port: int) -> int:
    """The `temporal server start-dev` listening on `port`."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"start-dev" in argv and str(port).encode() in argv:
            return int(entry.name)
    raise RuntimeError(f"no dev server on port {port}")


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    memory = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    load = os.getloadavg()[0]
    return (f"{os.cpu_count()} CPUs ({model}), {memory:.0f} GB RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, load average {load:.1f} at start")


@dataclass
class Stack:
    tmp: Path
    db: Database
    port: int
    env: object  # the dev server's WorkflowEnvironment
    workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def settings(self, queue: str) -> Settings:
        return Settings(_env_file=None, database_url=self.db.url, temporal_address=self.address,
                        temporal_task_queue=queue, cadence_secret_key=SECRET, cadence_env="test",
                        temporal_webhook_task_queue=f"{queue}-webhooks")

    def start_worker(self, queue: str, **overrides: str) -> subprocess.Popen:
        """`python worker.py` as a deploy runs it: emails to the outbox, settings from the environment."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CADENCE_", "TEMPORAL_", "SENDGRID_"))}
        env.update({"CADENCE_ENV": "test", "DATABASE_URL": self.db.url, "TEMPORAL_ADDRESS": self.address,
                    "TEMPORAL_TASK_QUEUE": queue, "TEMPORAL_WEBHOOK_TASK_QUEUE": f"{queue}-webhooks",
                    "CADENCE_SECRET_KEY": SECRET, **overrides})
        env.update({k: v for k, v in os.environ.items() if k.startswith("CADENCE_WORKER_") and k not in overrides})
        log = (self.tmp / f"worker-{queue}.log").open("ab")
        proc = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=die_with_parent)
        self.workers.append(proc)
        return proc

    @staticmethod
    def stop_worker(proc: subprocess.Popen) -> None:
        proc.terminate()
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


async def open_stack() -> Stack:
    from tests.support.live import free_port, prepare_database, start_dev_server

    tmp = Path(tempfile.mkdtemp(prefix="capacity-bench-"))
    db = Database(f"sqlite:///{tmp / 'cadence.db'}")
    prepare_database(db)
    with db.session() as s:
        for definition in (WAITING, BURST):
            cadence_store.save_version(s, definition)
    port = free_port()
    env = await start_dev_server(tmp / "temporal.db", port)
    return Stack(tmp, db, port, env)


def add_leads(db: Database, cadence: str, count: int, prefix: str) -> list[str]:
    """Lead rows as enrolment writes them (not yet started), in batches of one transaction each."""
    ids: list[str] = []
    for begin in range(0, count, 1000):
        with db.session() as s:
            for i in range(begin, min(count, begin + 1000)):
                lead_id = lead_store.new_lead_id()
                lead_store.add(s, id=lead_id, workflow_id=f"lead-{lead_id}", email=f"{prefix}-{i}@example.com",
                               first_name=f"Ada{i}", source="target_list", rank="D", cadence_name=cadence,
                               cadence_version=1, timezone="UTC", custom={})
                ids.append(lead_id)
    return ids


async def start_leads(client, settings: Settings, db: Database, lead_ids: list[str]) -> dict[str, datetime]:
    """Start each lead's workflow with the input the API builds; when each start was asked for."""
    from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

    from api.lead_workflows import start_input
    from workflows.lead_cadence import LeadCadenceWorkflow

    with db.session() as s:
        inputs = [(lead.workflow_id, start_input(s, settings, lead))
                  for lead in s.scalars(select(Lead).where(Lead.id.in_(lead_ids)))]
    asked: dict[str, datetime] = {}
    gate = asyncio.Semaphore(START_CONCURRENCY)

    async def one(workflow_id, workflow_input):
        async with gate:
            asked[workflow_input.lead_id] = datetime.now(timezone.utc)
            await client.start_workflow(LeadCadenceWorkflow.run, workflow_input, id=workflow_id,
                                        task_queue=settings.temporal_task_queue,
                                        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                                        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)

    await asyncio.gather(*(one(*item) for item in inputs))
    return asked


def waiting_count(db: Database, cadence: str) -> int:
    """Leads whose workflow wrote its state with a next touch: started and waiting on its timer."""
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Lead).where(
            Lead.cadence_name == cadence, Lead.revision > 0, Lead.next_touch.is_not(None))) or 0


async def settle(pid: int, seconds: float = 5.0) -> None:
    """Until the process used under 2% of a CPU for `seconds`."""
    while True:
        before = cpu_seconds(pid)
        await asyncio.sleep(seconds)
        if cpu_seconds(pid) - before < 0.02 * seconds:
            return


# --------------------------------------------------------------------------- waiting leads

@dataclass
class Sample:
    leads: int
    worker_mb: float
    server_mb: float
    started_s: float  # starting the workflows of this step
    waiting_s: float  # from the first start of this step until all its leads wait


async def waiting_leads(stack: Stack, counts: list[int]) -> tuple[list[Sample], Settings]:
    from temporal_client import connect

    queue = f"wait-{uuid.uuid4().hex[:6]}"
    settings = stack.settings(queue)
    client = await connect(settings, stack.db)
    worker = stack.start_worker(queue)
    server = dev_server_pid(stack.port)
    await asyncio.sleep(5)
    await settle(worker.pid, 3)
    samples = [Sample(0, rss_mb(worker.pid), rss_mb(server), 0, 0)]
    progress(f"idle worker {samples[0].worker_mb:.0f} MB, dev server {samples[0].server_mb:.0f} MB")
    done = 0
    try:
        for count in sorted(counts):
            new = count - done
            progress(f"adding {new:,} lead rows")
            ids = add_leads(stack.db, WAITING["name"], new, f"w{count}")
            began = time.monotonic()
            for chunk in range(0, new, 5000):
                await start_leads(client, settings, stack.db, ids[chunk:chunk + 5000])
                progress(f"started {done + min(new, chunk + 5000):,}; waiting: "
                         f"{waiting_count(stack.db, WAITING['name']):,}")
            started = time.monotonic() - began
            while (n := waiting_count(stack.db, WAITING["name"])) < count:
                if worker.poll() is not None:
                    raise RuntimeError(f"the worker exited with {worker.returncode}; see {stack.tmp}")
                progress(f"{n:,} of {count:,} waiting; worker {rss_mb(worker.pid):.0f} MB")
                await asyncio.sleep(10)
            waited = time.monotonic() - began
            await settle(worker.pid)
            await settle(server)
            samples.append(Sample(count, rss_mb(worker.pid), rss_mb(server), started, waited))
            progress(f"{count:,} waiting: worker {samples[-1].worker_mb:.0f} MB, "
                     f"dev server {samples[-1].server_mb:.0f} MB")
            done = count
    finally:
        stack.stop_worker(worker)
    return samples, settings


# --------------------------------------------------------------------------- history

async def history_per_year() -> dict[str, float]:
    """One lead: one email, then nurture for a simulated year on the time-skipping server."""
    from temporalio.api.history.v1 import History
    from temporalio.testing import WorkflowEnvironment

    from persistence.migrate import upgrade
    from temporal_client import ensure_search_attributes
    from tests.support.harness import eventually, make_cadence, running_worker

    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='history-bench-')) / 'cadence.db'}"
    upgrade(url)
    db = Database(url)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"))
    try:
        await ensure_search_attributes(env.client, env.client.namespace)
        async with running_worker(env.client, db) as h:
            handle = await h.start(make_cadence(steps=[
                {"id": "s1", "channel": "email", "wait": "PT0S", "subject": "Hi", "body": "Hello {{ first_name }}"}]))
            await eventually(lambda: h.lead(handle).stage == "nurture", timeout=60)
            entered = await env.get_current_time()
            for _ in range(13):  # a month at a time: one long sleep outlasts the RPC's deadline
                await env.sleep(timedelta(days=28.2))
            sizes = []  # (bytes, events) of each run, the first (before nurture) included
            async for run in _runs(h.client, handle.id):
                history = await h.client.get_workflow_handle(handle.id, run_id=run).fetch_history()
                sizes.append((History(events=history.events).ByteSize(), len(history.events)))
            touches = [t for t in h.touches(handle) if t.step_id.startswith("n-")]
            days = (await env.get_current_time() - entered).total_seconds() / 86400
    finally:
        await env.shutdown()
    nurture = sizes[1:]  # nurture starts in a run of its own
    nurture_bytes = sum(b for b, _ in nurture)
    return {"days": days, "nurture_runs": len(nurture), "nurture_bytes": nurture_bytes,
            "nurture_events": sum(e for _, e in nurture), "first_run_bytes": sizes[0][0], "touches": len(touches),
            "bytes_per_year": nurture_bytes * 365 / days}


async def _runs(client, workflow_id: str):
    """Run ids of a workflow id from its first run on, following each continue-as-new."""
    from temporalio.api.enums.v1 import EventType

    handle = client.get_workflow_handle(workflow_id)
    first = None
    async for event in handle.fetch_history_events():  # the latest run: find where the chain starts
        first = event.workflow_execution_started_event_attributes.first_execution_run_id
        break
    run = first
    while run:
        yield run
        last = None
        async for event in client.get_workflow_handle(workflow_id, run_id=run).fetch_history_events():
            last = event
        if last is None or last.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            return
        run = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id


# --------------------------------------------------------------------------- burst

@dataclass
class Burst:
    label: str
    leads: int
    p50: float
    p90: float
    worst: float
    total: float
    worker_mb: float
    worker_cpu: float  # CPU seconds the worker used during the burst
    server_cpu: float


async def burst(stack: Stack, leads: int, overrides: dict[str, str]) -> Burst:
    from temporal_client import connect

    queue = f"burst-{uuid.uuid4().hex[:6]}"
    settings = stack.settings(queue)
    client = await connect(settings, stack.db)
    ids = add_leads(stack.db, BURST["name"], leads, queue)
    worker = stack.start_worker(queue, **overrides)
    try:
        await asyncio.sleep(4)
        await settle(worker.pid, 2)
        server = dev_server_pid(stack.port)
        cpu = cpu_seconds(worker.pid), cpu_seconds(server)
        began = time.monotonic()
        asked = await start_leads(client, settings, stack.db, ids)
        while True:
            with stack.db.session() as s:
                rows = s.execute(select(OutboxEmail.lead_id, OutboxEmail.created_at).where(
                    OutboxEmail.lead_id.in_(ids))).all()
            if len(rows) >= leads:
                break
            if time.monotonic() - began > 900:
                raise RuntimeError(f"only {len(rows)} of {leads} emails after 15 minutes")
            await asyncio.sleep(0.2)
        total = time.monotonic() - began
        worker_mb = rss_mb(worker.pid)
        cpu = cpu_seconds(worker.pid) - cpu[0], cpu_seconds(server) - cpu[1]
    finally:
        stack.stop_worker(worker)
    latency = sorted(((at if at.tzinfo else at.replace(tzinfo=timezone.utc)) - asked[lead]).total_seconds()
                     for lead, at in rows)
    label = ", ".join(f"{k.removeprefix('CADENCE_WORKER_')}={v}" for k, v in overrides.items()) or "defaults"
    return Burst(label, leads, statistics.median(latency), latency[int(0.9 * (len(latency) - 1))], latency[-1],
                 total, worker_mb, *cpu)


def median_burst(group: list[Burst]) -> Burst:
    """Each figure the median over the repeats of one setting."""
    def mid(name):
        return statistics.median(getattr(b, name) for b in group)
    return Burst(group[0].label, group[0].leads, mid("p50"), mid("p90"), mid("worst"), mid("total"), mid("worker_mb"),
                 mid("worker_cpu"), mid("server_cpu"))


# --------------------------------------------------------------------------- report

def report(samples: list[Sample] | None, settings: Settings | None, history: dict | None,
           bursts: list[Burst], args_repeat: int = 1) -> None:
    print(f"Machine: {machine()}.\n")
    if samples:
        print(f"Worker settings: {settings.cadence_worker_max_cached_workflows} cached workflows, "
              f"{settings.cadence_worker_max_concurrent_workflow_tasks} workflow tasks, "
              f"{settings.cadence_worker_max_concurrent_activities} activities; SQLite; emails to the outbox.\n")
        print("| leads waiting | worker RSS | dev server RSS | starting them | until all wait |")
        print("|---:|---:|---:|---:|---:|")
        for s in samples:
            timing = (f"{s.started_s:.0f} s | {s.waiting_s:.0f} s" if s.leads else "| ")
            print(f"| {s.leads:,} | {s.worker_mb:.0f} MB | {s.server_mb:.0f} MB | {timing} |")
        print()
    if history:
        print("| nurture, one lead | runs | events | history bytes | per lead-year |")
        print("|---|---:|---:|---:|---:|")
        print(f"| {history['days']:.0f} days, {history['touches']} touches | {history['nurture_runs']} | "
              f"{history['nurture_events']} | {history['nurture_bytes']:,} | "
              f"{history['bytes_per_year'] / 1024:.0f} KB |")
        print(f"\n(The run before nurture, one email: {history['first_run_bytes']:,} bytes.)\n")
    if bursts:
        print(f"Bursts: the median of {args_repeat} each.\n" if args_repeat > 1 else "", end="")
        print("| worker settings | leads | email after start: median | 90th percentile | slowest | "
              "all emails | worker RSS | worker CPU | dev server CPU |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for b in bursts:
            print(f"| {b.label} | {b.leads} | {b.p50:.2f} s | {b.p90:.2f} s | {b.worst:.2f} s | {b.total:.1f} s | "
                  f"{b.worker_mb:.0f} MB | {b.worker_cpu:.1f} s | {b.server_cpu:.1f} s |")


async def main(args: argparse.Namespace) -> None:
    samples = settings = history = None
    bursts: list[Burst] = []
    if not args.no_history:
        progress("history: a year of nurture on the time-skipping server")
        history = await history_per_year()
        progress(f"history: {history}")
    if args.burst or not args.no_waiting:
        stack = await open_stack()
        try:
            if args.burst:
                runs: dict[str, list[Burst]] = {}
                for _ in range(args.repeat):  # settings interleaved, so a busy spell of the machine hits all
                    for overrides in (SWEEP if args.sweep else [{}]):
                        progress(f"burst of {args.burst} with {overrides or 'the defaults'}")
                        one = await burst(stack, args.burst, overrides)
                        runs.setdefault(one.label, []).append(one)
                        progress(f"  {one}")
                bursts = [median_burst(group) for group in runs.values()]
            if not args.no_waiting:
                samples, settings = await waiting_leads(stack, args.leads)
        finally:
            for proc in stack.workers:
                if proc.poll() is None:
                    proc.kill()
            await stack.env.shutdown()
    report(samples, settings, history, bursts, args.repeat)


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM: stop the worker and the dev server on the way out, as Ctrl-C does


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, nargs="+", default=[10_000, 50_000],
                        help="counts of waiting leads to measure at (cumulative)")
    parser.add_argument("--burst", type=int, default=0, help="leads in a burst of first emails (0: none)")
    parser.add_argument("--sweep", action="store_true", help="the burst for each of several worker settings")
    parser.add_argument("--repeat", type=int, default=1, help="bursts per setting; the median is shown")
    parser.add_argument("--no-history", action="store_true")
    parser.add_argument("--no-waiting", action="store_true")
    asyncio.run(main(parser.parse_args()))
    sys.stdout.flush()
    os._exit(0)  # the Temporal SDK's native threads can abort the interpreter's own shutdown
