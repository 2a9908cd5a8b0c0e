"""End-to-end figures of the product as `make run` runs it, each next to bare Temporal (``make bench``).

Run from the repository root::

    .venv/bin/python -m benchmarks.e2e_bench [--small]

It starts, in a temporary directory, what `make run` starts: a Temporal dev server (with the
lead workflow's search attributes), `python worker.py` and the API under uvicorn, each in a process of
its own, on SQLite, with every email going to the outbox (no SENDGRID_API_KEY). On the same dev
server a bare worker (`benchmarks.bare_worker`, a process of its own too) runs the baselines on a
task queue of its own: a workflow of one no-op activity, and one that waits for a signal and then
runs that activity. Every figure is put next to its baseline, measured in the same run:

- `POST /leads` per second from CLIENTS concurrent clients, each sending its next request when
  the last one is answered; baseline: `start_workflow` of the bare workflow, same clients.
- A burst of BURST leads (those same requests): seconds from the first request until the last
  lead's first email is in the outbox (the row's `created_at`); baseline: BURST bare workflows
  started the same way, until the last one completed (its close time on the server).
- One lead at a time on an idle system: `POST /leads` until its first email is in the outbox
  (`created_at`), p50 and p99 of SAMPLES; baseline: `start_workflow` until its activity ran (the
  time the activity answers). Each lead is left to settle (its next touch planned) before the next.
- A positive reply (`POST /leads/{id}/signals/reply`) until `GET /leads/{id}` shows the new stage,
  polled every STAGE_POLL_SECONDS, p50 and p99; baseline: a signal until the activity it unblocks ran.
- Temporal actions (workflow starts, activities scheduled, timers started, signals received) and
  history events, all runs together, of one lead through the whole rank-a cadence on the
  time-skipping test server (the run of `benchmarks.schedule_bench`, real activities, the outbox),
  divided by the email touches and by all touches (emails and rep tasks) it made.

Progress goes to stderr; the results table to stdout as Markdown. `--small` is a smoke run of a
few leads. This is a benchmark, not a test: it asserts no timing, only that the work was done
(every lead got its first email, every reply moved its lead, every baseline workflow completed).
"""
from __future__ import annotations

import asyncio
import dataclasses
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.schedule_bench import TEST_SERVER, note  # noqa: E402

CLIENTS = 20  # concurrent HTTP clients, and concurrent starters of the bare workflows
BURST, SAMPLES = 300, 100
SMALL_BURST, SMALL_SAMPLES = 10, 10
WARM_UP = 3  # leads and bare workflows of each kind before anything is timed
POLL_SECONDS = 0.02  # the outbox and the read model; the email's time is the outbox row's created_at
STAGE_POLL_SECONDS = 0.01  # GET /leads/{id} after a reply: the figure's resolution
CADENCE_SECONDS = 300  # the whole rank-a cadence under time skipping takes about a second
SETTLE_SECONDS = 120  # how long a lead may take to plan its next touch before the run goes on
UNLIMITED = "1000000/minute"  # the benchmark sends faster than a person; the rate limits would throttle it
BARE_QUEUE = "bench-bare"


@dataclasses.dataclass
class Figure:
    name: str
    measured: str
    baseline: str
    ratio: str
    target: str
    met: str


FIGURES: list[Figure] = []
NOT_DONE: Counter[str] = Counter()  # work asked for and not done (a refused request, a missing email), how often
GIVE_UP_AFTER = 5  # that much work not done in a phase: the product is not doing it, timing more would only take long


@dataclasses.dataclass
class Stack:
    http: object  # httpx.AsyncClient of the API, with the admin key
    temporal: object  # a plain client of the dev server (no codec: it reads only the bare workflows)
    db: object


def mark(ok: bool) -> str:
    return "yes" if ok else "no"


def p(values: list[float], q: int) -> float:
    """The q-th percentile (inclusive method: within the samples even when there are few)."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.0f} ms"


def wall(at: datetime) -> float:
    """A database timestamp (UTC; naive on SQLite) as time.time()."""
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).timestamp()


# --- the stack ----------------------------------------------------------------------------------

def product_env(db_url: str, temporal_address: str, api_port: int, data_dir: Path) -> dict[str, str]:
    """The settings the worker and the API run with. None of the shell's (a SENDGRID_API_KEY there
    would send real emails), and they run in the temporary directory, so no `.env` is read."""
    from tests.support.live import ADMIN_KEY

    ours = ("CADENCE_", "TEMPORAL_", "SENDGRID_", "DATABASE_")
    kept = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return {**kept, "PYTHONPATH": str(ROOT), "DATABASE_URL": db_url, "TEMPORAL_ADDRESS": temporal_address,
            "CADENCE_DATA_DIR": str(data_dir), "CADENCE_API_PORT": str(api_port),
            "CADENCE_PUBLIC_URL": f"http://127.0.0.1:{api_port}", "CADENCE_BOOTSTRAP_API_KEY": ADMIN_KEY,
            "CADENCE_RATE_LIMIT": UNLIMITED, "CADENCE_SIGNAL_RATE_LIMIT": UNLIMITED}


async def until_healthy(http, procs: dict[str, subprocess.Popen], logs: Path, timeout: float = 120) -> None:
    """/healthz answers ok: the API is up, reaches Temporal and sees the worker polling."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        for name, proc in procs.items():
            if proc.poll() is not None:
                sys.exit(f"{name} exited with {proc.returncode}:\n{(logs / f'{name}.log').read_text()[-3000:]}")
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"the stack did not become healthy within {timeout:.0f} s")
        await asyncio.sleep(0.2)


@contextmanager
def stdout_to_stderr():
    """Standard output goes to stderr meanwhile, of this process and of the processes it starts."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@asynccontextmanager
async def live_stack(tmp: Path):
    import httpx

    from persistence.db import Database
    from scripts.run_local import die_with_parent
    from tests.support.live import api_client, free_port, prepare_database, start_dev_server

    db = Database(f"sqlite:///{tmp / 'cadence.db'}")
    prepare_database(db)
    env = await start_dev_server(tmp / "temporal.db", free_port())
    procs: dict[str, subprocess.Popen] = {}
    failed = True  # until the measurements are over with all work done
    try:
        address, api_port = env.client.service_client.config.target_host, free_port()
        child_env = product_env(db.url, address, api_port, tmp)
        for name, args in (("worker", [str(ROOT / "worker.py")]),
                           ("bare-worker", ["-m", "benchmarks.bare_worker", address, BARE_QUEUE]),
                           ("api", ["-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(api_port),
                                    "--log-level", "warning"])):
            with (tmp / f"{name}.log").open("wb") as log:
                procs[name] = subprocess.Popen([sys.executable, *args], cwd=tmp, env=child_env, stdout=log,
                                               stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        async with api_client(f"http://127.0.0.1:{api_port}", timeout=60,
                              limits=httpx.Limits(max_connections=CLIENTS * 2)) as http:
            await until_healthy(http, procs, tmp)
            yield Stack(http, env.client, db)
            failed = bool(NOT_DONE)
    finally:
        if failed:  # the temporary directory goes: what the processes said goes to stderr first
            for name in procs:
                note(f"--- the end of {name}'s output ---\n{(tmp / f'{name}.log').read_text(errors='replace')[-4000:]}")
        for proc in reversed(procs.values()):  # the API first, the worker last, as `make run` stops them
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        await env.shutdown()
        db.engine.dispose()


# --- what is timed ------------------------------------------------------------------------------

async def in_clients(n: int, call) -> tuple[list, float]:
    """`call(i)` for every i < n by CLIENTS concurrent clients, each calling again once answered;
    the answers in the order of i, and the seconds until the last was answered."""
    answers: list = [None] * n
    todo = iter(range(n))

    async def client() -> None:
        for i in todo:  # one iterator for all: each i is taken once
            answers[i] = await call(i)

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return answers, time.perf_counter() - began


def gave_up(before: int) -> bool:
    """Whether the phase that began when `before` things were not done should stop."""
    return sum(NOT_DONE.values()) - before >= GIVE_UP_AFTER


def not_done(what: str) -> None:
    """Work the benchmark asked for and did not get: reported under the table, and the run fails."""
    if not NOT_DONE[what]:
        note(f"    NOT DONE: {what}")
    NOT_DONE[what] += 1


async def post_lead(http, tag: str) -> str | None:
    """A new rank-A lead from a web form, as the README enrols one; its id, or None if refused. Each
    at a company (an email domain) of its own: a colleague's reply would pause it (accounts)."""
    import httpx

    company = uuid.uuid4().hex[:10]
    try:
        r = await http.post("/leads", json={"email": f"{tag}@{company}.example.com", "source": "form_fill",
                                            "first_name": "Grace", "company": f"Company {company}",
                                            "phone": "+14155550100"})
    except httpx.HTTPError as exc:
        not_done(f"`POST /leads` failed: {exc!r}")
        return None
    if r.status_code != 201 or r.json().get("rank") != "A":  # the body names the problem, not this lead
        not_done(f"`POST /leads` answered {r.status_code}: {r.text[:200]}")
        return None
    return r.json()["id"]


async def first_emails(db, lead_ids: list[str], timeout: float, interval: float = POLL_SECONDS) -> dict[str, float]:
    """Each lead's first outbox row's created_at (as time.time()), once every lead has one."""
    from sqlalchemy import func, select

    from persistence.models import OutboxEmail

    deadline = time.monotonic() + timeout
    while True:
        with db.session() as s:
            rows = s.execute(select(OutboxEmail.lead_id, func.min(OutboxEmail.created_at))
                             .where(OutboxEmail.lead_id.in_(lead_ids)).group_by(OutboxEmail.lead_id)).all()
        if len(rows) == len(lead_ids) or time.monotonic() > deadline:
            if len(rows) < len(lead_ids):
                not_done(f"{len(lead_ids) - len(rows)} of {len(lead_ids)} leads had no email in the outbox "
                         f"{timeout:.0f} s after they were enrolled")
            return {lead_id: wall(at) for lead_id, at in rows}
        await asyncio.sleep(interval)


async def settled(db, lead_ids: list[str]) -> None:
    """Wait until each lead has planned its next touch after the first email: its workflow is
    waiting, so the next measurement starts on an idle system."""
    from sqlalchemy import select

    from persistence.models import Lead

    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        with db.session() as s:
            plans = s.scalars(select(Lead.next_touch).where(Lead.id.in_(lead_ids))).all()
        if len(plans) == len(lead_ids) and all(plan and plan.get("step", 0) >= 2 for plan in plans):
            return
        await asyncio.sleep(POLL_SECONDS)
    note(f"    (some of {len(lead_ids)} leads had not planned their next touch after {SETTLE_SECONDS} s)")


async def bare_start(temporal, tag: str):
    from benchmarks.baseline_workflow import OneActivityWorkflow

    return await temporal.start_workflow(OneActivityWorkflow.run, id=f"bare-{tag}-{uuid.uuid4().hex[:10]}",
                                         task_queue=BARE_QUEUE)


async def warm_up(stack: Stack) -> None:
    for _ in range(WARM_UP):
        await (await bare_start(stack.temporal, "warm")).result()
        lead_id = await post_lead(stack.http, "warm")
        if lead_id:
            await first_emails(stack.db, [lead_id], 60)
            await settled(stack.db, [lead_id])


async def burst(stack: Stack, n: int) -> None:
    note(f"    {n} bare workflows by {CLIENTS} clients ...")
    began = time.time()
    handles, starting = await in_clients(n, lambda i: bare_start(stack.temporal, "burst"))
    await asyncio.gather(*(h.result() for h in handles))
    close_times = [(await h.describe()).close_time for h in handles]
    bare_done = max(at.timestamp() for at in close_times) - began
    note(f"    {n} leads by {CLIENTS} clients ...")
    began = time.time()
    answered, posting = await in_clients(n, lambda i: post_lead(stack.http, "burst"))
    lead_ids = [lead_id for lead_id in answered if lead_id]
    emailed = await first_emails(stack.db, lead_ids, timeout=60 + n, interval=0.1)  # times come from the rows
    await settled(stack.db, list(emailed))
    # Refused requests and missing emails count against the figures: they are work not done.
    short = f", {n - len(emailed)} of {n} not done" if len(emailed) < n else ""
    rate, bare_rate = len(lead_ids) / posting, n / starting
    FIGURES.append(Figure(f"`POST /leads` rate, {CLIENTS} concurrent clients ({n} requests)",
                          f"{rate:,.0f} /s{short}", f"{bare_rate:,.0f} /s `start_workflow`", f"{rate / bare_rate:.2f}×",
                          "≥ 0.9×", mark(rate / bare_rate >= 0.9 and not short)))
    if emailed:
        done = max(emailed.values()) - began
        FIGURES.append(Figure(f"burst of {n} leads: first request → last first email in the outbox",
                              f"{done:.2f} s{short}", f"{bare_done:.2f} s to start and complete {n} one-activity "
                              "workflows", f"{done / bare_done:.2f}×", "≤ 1.5×",
                              mark(done / bare_done <= 1.5 and not short)))


async def one_at_a_time(stack: Stack, n: int, leads: list[str]) -> None:
    """Lead and bare samples interleaved, so a slow phase of the machine hits both; `leads` gets
    the leads that got their first email."""
    subject, base, before = [], [], sum(NOT_DONE.values())
    for i in range(n):
        if gave_up(before):
            note(f"    giving up after {i} of {n}: the work asked was not done")
            break
        began = time.time()
        ran = await (await bare_start(stack.temporal, "single")).result()
        base.append(ran - began)
        began = time.time()
        lead_id = await post_lead(stack.http, "single")
        emailed = await first_emails(stack.db, [lead_id], 30) if lead_id else {}
        if lead_id in emailed:
            subject.append(emailed[lead_id] - began)
            await settled(stack.db, [lead_id])
            leads.append(lead_id)
        if (i + 1) % 10 == 0:
            note(f"    {i + 1}/{n}")
    if not subject:
        return
    ratio = p(subject, 99) / p(base, 99)
    FIGURES.append(Figure(f"one lead at a time, idle: `POST /leads` → first email in the outbox, p99 (p50), "
                          f"{len(subject)} leads",
                          f"{ms(p(subject, 99))} ({ms(p(subject, 50))})",
                          f"{ms(p(base, 99))} ({ms(p(base, 50))}) start → one activity ran",
                          f"{ratio:.2f}×", "≤ 2×", mark(ratio <= 2)))


async def replies(stack: Stack, lead_ids: list[str]) -> None:
    from benchmarks.baseline_workflow import SignalThenActivityWorkflow

    waiting = [await stack.temporal.start_workflow(SignalThenActivityWorkflow.run, id=f"bare-signal-{uuid.uuid4().hex}",
                                                   task_queue=BARE_QUEUE) for _ in lead_ids]
    await asyncio.sleep(1)  # their first workflow tasks ran: each waits for its signal
    subject, base, before = [], [], sum(NOT_DONE.values())
    for i, (handle, lead_id) in enumerate(zip(waiting, lead_ids)):
        if gave_up(before):
            note(f"    giving up after {i} of {len(lead_ids)}: the work asked was not done")
            break
        began = time.time()
        await handle.signal(SignalThenActivityWorkflow.go)
        base.append(await handle.result() - began)
        took = await stage_after_reply(stack.http, lead_id)
        if took is not None:
            subject.append(took)
        await closed(stack.temporal, f"lead-{lead_id}")
        if (i + 1) % 10 == 0:
            note(f"    {i + 1}/{len(lead_ids)}")
    if not subject:
        return
    ratio, worst = p(subject, 99) / p(base, 99), p(subject, 99)
    FIGURES.append(Figure(f"positive reply → stage visible in `GET /leads/{{id}}`, idle, p99 (p50), {len(subject)} "
                          "leads", f"{ms(worst)} ({ms(p(subject, 50))})",
                          f"{ms(p(base, 99))} ({ms(p(base, 50))}) signal → one activity ran", f"{ratio:.2f}×",
                          "≤ 2× and ≤ 150 ms", mark(ratio <= 2 and worst <= 0.150)))


async def stage_after_reply(http, lead_id: str, timeout: float = 60) -> float | None:
    """Seconds from sending a positive reply until `GET /leads/{id}` shows the lead qualified."""
    before = (await http.get(f"/leads/{lead_id}")).json()["stage"]
    began = time.perf_counter()
    r = await http.post(f"/leads/{lead_id}/signals/reply", json={
        "event_id": f"bench-{uuid.uuid4().hex[:12]}", "intent": "positive", "text": "Sounds good, let us talk"})
    if r.status_code != 202:
        not_done(f"the reply signal answered {r.status_code}: {r.text[:200]}")
        return None
    while (stage := (await http.get(f"/leads/{lead_id}")).json()["stage"]) == before:
        if time.perf_counter() - began > timeout:
            not_done(f"lead {lead_id} was still {before} {timeout:.0f} s after a positive reply")
            return None
        await asyncio.sleep(STAGE_POLL_SECONDS)
    took = time.perf_counter() - began
    if stage != "qualified":
        not_done(f"a positive reply moved lead {lead_id} to {stage}, not qualified")
    return took


async def closed(temporal, workflow_id: str) -> None:
    """A reply that qualifies the lead ends its cadence: wait until the workflow has closed."""
    from temporalio.client import WorkflowExecutionStatus

    deadline = time.monotonic() + SETTLE_SECONDS
    while (await temporal.get_workflow_handle(workflow_id).describe()).status == WorkflowExecutionStatus.RUNNING:
        if time.monotonic() > deadline:
            note(f"    ({workflow_id} still running {SETTLE_SECONDS} s after its stage changed)")
            return
        await asyncio.sleep(POLL_SECONDS)


# --- actions and history per touch, on the time-skipping server ------------------------------------

async def whole_history(client, workflow_id: str, run_id: str) -> list:
    """The history events of a workflow's run and every run it continued as new into."""
    from temporalio.api.enums.v1 import EventType

    events: list = []
    while run_id:
        run = [e async for e in client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history_events()]
        events += run
        last = run[-1]
        run_id = (last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
                  if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW else None)
    return events


async def cadence_actions(workdir: Path) -> list[str]:
    """One rank-a lead through its whole cadence; the figures, and a note of what was counted."""
    from sqlalchemy import select
    from temporalio.api.enums.v1 import EventType

    from benchmarks.schedule_bench import (
        add_leads, bench_cadence_definition, check_runs, lead_workflow_worker, run_cadences,
    )
    from persistence.cadences import snapshot_from_file
    from persistence.models import Touch

    cadence, nurture = bench_cadence_definition(), snapshot_from_file("nurture")
    async with lead_workflow_worker(workdir) as (client, db, task_queue):
        _, (handle,) = await run_cadences(client, task_queue, add_leads(db, cadence, 1), cadence, nurture)
        await check_runs(db, [handle], cadence)
        events = await whole_history(client, handle.id, handle.first_execution_run_id)
        with db.session() as s:
            touches = s.scalars(select(Touch).where(Touch.lead_id == handle.id.removeprefix("lead-"))).all()
    by_type = Counter(e.event_type for e in events)
    counted = {"starts": EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
               "activities": EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
               "timers": EventType.EVENT_TYPE_TIMER_STARTED,
               "signals": EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED}
    actions = sum(by_type[t] for t in counted.values())
    emails = sum(t.channel == "email" and t.status == "outboxed" for t in touches)
    tasks = sum(t.channel != "email" for t in touches)
    assert emails == sum(step.channel == "email" for step in cadence.steps), [(t.channel, t.status) for t in touches]
    assert emails + tasks == len(cadence.steps), len(touches)
    done = emails + tasks
    FIGURES.append(Figure("Temporal actions per email touch, whole rank-a cadence (actions / emails)",
                          f"{actions / emails:.1f} ({actions} / {emails})", "—", "—", "≤ 3",
                          mark(actions / emails <= 3)))
    FIGURES.append(Figure("Temporal actions per touch, whole rank-a cadence (actions / emails and rep tasks)",
                          f"{actions / done:.1f} ({actions} / {done})", "—", "—", "—", "—"))
    FIGURES.append(Figure("history events per touch, whole rank-a cadence (events / emails and rep tasks)",
                          f"{len(events) / done:.1f} ({len(events)} / {done})", "—", "—", "≤ 12",
                          mark(len(events) / done <= 12)))
    FIGURES.append(Figure("history events per email touch, whole rank-a cadence (events / emails)",
                          f"{len(events) / emails:.1f} ({len(events)} / {emails})", "—", "—", "—", "—"))
    others = {"search attribute upserts": EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
              "markers": EventType.EVENT_TYPE_MARKER_RECORDED,
              "updates accepted": EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED}
    return [f"Actions counted: {', '.join(f'{name} {by_type[t]}' for name, t in counted.items())} "
            f"({by_type[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED]} run(s)); not counted: "
            f"{', '.join(f'{name} {by_type[t]}' for name, t in others.items())}. Touches: {emails} emails in the "
            f"outbox, {tasks} rep tasks (left to expire), rank-a ending `not_interested` instead of going to nurture."]


# --- main ------------------------------------------------------------------------------------------

def markdown_table(figures: list[Figure]) -> str:
    lines = ["| figure | measured | baseline | ratio | target | met? |", "|---|---:|---:|---:|---|---|"]
    lines += [f"| {f.name} | {f.measured} | {f.baseline} | {f.ratio} | {f.target} | {f.met} |" for f in figures]
    return "\n".join(lines)


async def main(small: bool) -> None:
    if not TEST_SERVER.exists():
        sys.exit(f"Temporal test server not found next to {sys.executable} (install the test extras: make test)")
    n_burst, n_samples = (SMALL_BURST, SMALL_SAMPLES) if small else (BURST, SAMPLES)
    started = time.perf_counter()
    # What the cadence loader, the dev server and the SDK's core print is progress: stdout is the table.
    with stdout_to_stderr(), tempfile.TemporaryDirectory(prefix="cadence-e2e-bench-") as tmp:
        workdir = Path(tmp)
        note("[1/5] starting the dev server, the worker, the bare worker and the API ...")
        async with live_stack(workdir) as stack:
            await warm_up(stack)
            leads: list[str] = []  # those of the one-at-a-time phase, which then reply
            phases = [(f"burst: {n_burst} leads and {n_burst} bare workflows", lambda: burst(stack, n_burst)),
                      (f"one at a time: {n_samples} leads and {n_samples} bare workflows",
                       lambda: one_at_a_time(stack, n_samples, leads)),
                      (f"replies: {n_samples} leads and {n_samples} bare signals", lambda: replies(stack, leads))]
            for i, (name, phase) in enumerate(phases, 2):
                note(f"[{i}/5] {name} ...")
                await phase()
        note("[5/5] actions and history of one rank-a lead's whole cadence, time-skipping server ...")
        try:
            footnotes = await asyncio.wait_for(cadence_actions(workdir), CADENCE_SECONDS)
        except TimeoutError:  # a workflow task failing over and over (say, an unregistered search attribute)
            not_done(f"the rank-a lead's cadence did not end within {CADENCE_SECONDS} s on the time-skipping server")
            footnotes = []
    print(markdown_table(FIGURES))
    print()
    for line in footnotes:
        print(line)
    for what, times in NOT_DONE.items():
        print(f"NOT DONE{f' ({times} times)' if times > 1 else ''}: {what}")
    print(f"Ratio: measured / baseline (for the rate, higher is better; for times, lower). SQLite, emails to the "
          f"outbox, one worker process; Python {platform.python_version()}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}; total run {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    asyncio.run(main("--small" in sys.argv[1:]))
    sys.stdout.flush()
    os._exit(1 if NOT_DONE else 0)  # the Temporal SDK's native threads can abort the interpreter's own shutdown
