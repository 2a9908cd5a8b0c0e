"""The Temporal worker: runs lead workflows and the activities that touch the world.

    python worker.py            # reads settings from the environment (see README)
"""
from __future__ import annotations

import asyncio
import compileall
import signal
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import PollerBehaviorSimpleMaximum, Worker

from activities.accounts import AccountActivities
from activities.imports import ImportActivities
from activities.touches import TouchActivities
from activities.webhooks import DeliveryStarter, WebhookActivities, ensure_sweep_schedule
from config import Settings, get_settings
from messaging.email_message import Links, Sender
from messaging.mailer import SendGridMailer
from persistence import outbound
from persistence.db import Database, database_for
from privacy.keys import KeyProblem, ring_for
from temporal_client import SearchAttributesMissing, connect, ensure_search_attributes
from workflows.imports import ImportLeadsWorkflow
from workflows.lead_cadence import LeadCadenceWorkflow
from workflows.webhooks import WebhookDeliveryWorkflow, WebhookSweepWorkflow

log = logging.getLogger("cadence.worker")
GRACEFUL_SHUTDOWN = timedelta(seconds=20)  # below compose's stop_grace_period, above a send's timeout
# Heartbeats reach the server at most this often (default: 80% of the heartbeat timeout, 32 s for a
# send); a cancellation travels back on their answer, so an unsubscribe stops a send within this.
HEARTBEAT_THROTTLE = timedelta(seconds=1)
# Imports and webhook deliveries keep fewer workflows in memory than leads: an import is one workflow
# per list, and a delivery waiting out its back-off costs only its replay when it tries again.
IMPORTS_CACHED, DELIVERIES_CACHED = 16, 100


def compile_workflow_modules() -> bool:
    """Write the bytecode of the workflow modules next to them (or under PYTHONPYCACHEPREFIX); False
    if it could not be written.

    Temporal's sandbox imports a workflow's module afresh for every workflow it runs, so that no
    module state leaks from one lead to the next. Python skips compiling a module only when its
    bytecode is on disk, and it is not when PYTHONDONTWRITEBYTECODE is set (as in the image, which
    compiles it at build time instead) or the source is read-only: then every new lead, and every
    lead replayed after leaving the sticky cache, compiles the workflow's source again. Measured in
    bursts of 300 new leads, compiling was 37 % of the worker's CPU, and the last first email came
    1.8-2.0x as late as bare Temporal's without the bytecode, 1.2-1.6x with it (docs/performance.md)."""
    import workflows

    return bool(compileall.compile_dir(Path(workflows.__file__).parent, maxlevels=0, quiet=2))


def capacity(settings: Settings, *, most_cached: int | None = None) -> dict:
    """The Worker options the CADENCE_WORKER_* settings size: task slots, the sticky cache, pollers."""
    cached = settings.cadence_worker_max_cached_workflows
    return dict(
        max_concurrent_workflow_tasks=settings.cadence_worker_max_concurrent_workflow_tasks,
        max_cached_workflows=cached if most_cached is None else min(cached, most_cached),
        workflow_task_poller_behavior=PollerBehaviorSimpleMaximum(settings.cadence_worker_workflow_task_pollers),
        activity_task_poller_behavior=PollerBehaviorSimpleMaximum(settings.cadence_worker_activity_task_pollers),
    )


def build_activities(settings: Settings, db: Database) -> TouchActivities:
    mailer = SendGridMailer(settings.sendgrid_api_key.get_secret_value(), settings.sendgrid_host,
                            settings.sendgrid_timeout_seconds) if settings.sendgrid_api_key else None
    return TouchActivities(
        db, mailer=mailer,
        sender=Sender(settings.cadence_from_email, settings.cadence_from_name),
        links=Links(settings.cadence_public_url, settings.cadence_inbound_domain, settings.secret()),
    )


def build_worker(client: Client, settings: Settings, db: Database, executor: ThreadPoolExecutor) -> Worker:
    activities = build_activities(settings, db)
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[LeadCadenceWorkflow],
        activities=activities.all() + AccountActivities(db, client).all(),
        activity_executor=executor,  # activities do blocking database and HTTP I/O
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        max_concurrent_activities=executor._max_workers,  # never more than threads to run them
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        **capacity(settings),
    )


def build_import_worker(client: Client, settings: Settings, db: Database, executor: ThreadPoolExecutor) -> Worker:
    """Lead imports on their own task queue and threads: a big list never holds up a lead's work."""
    return Worker(
        client,
        task_queue=settings.import_task_queue,
        workflows=[ImportLeadsWorkflow],
        activities=ImportActivities(db, client, settings).all(),
        activity_executor=executor,
        max_concurrent_activities=executor._max_workers,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        **capacity(settings, most_cached=IMPORTS_CACHED),
    )


def build_webhook_worker(client: Client, settings: Settings, db: Database, executor: ThreadPoolExecutor) -> Worker:
    """Webhook deliveries on their own task queue and threads: a slow receiver never delays a lead.
    Also has this process start the deliveries every commit on `db` makes (see persistence/outbound.py)."""
    starter = DeliveryStarter(client, settings)
    outbound.start_after_commit(db, starter)
    return Worker(
        client,
        task_queue=settings.temporal_webhook_task_queue,
        workflows=[WebhookDeliveryWorkflow, WebhookSweepWorkflow],
        activities=WebhookActivities(db, ring_for(settings), starter).all(),
        activity_executor=executor,
        max_concurrent_activities=executor._max_workers,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        **capacity(settings, most_cached=DELIVERIES_CACHED),
    )


def metrics_runtime(settings: Settings) -> Runtime | None:
    """The Temporal SDK's own metrics in the Prometheus format on CADENCE_WORKER_METRICS_PORT."""
    if not settings.cadence_worker_metrics_port:
        return None
    address = f"{settings.cadence_worker_metrics_host}:{settings.cadence_worker_metrics_port}"
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    try:  # production without CADENCE_PAYLOAD_KEYS (or with malformed ones) must not write history
        ring_for(settings)
    except KeyProblem as exc:
        raise SystemExit(f"the worker does not start: {exc}") from None
    if not compile_workflow_modules():
        log.warning("could not write the workflow modules' bytecode: each workflow the worker starts or "
                    "replays compiles their source again (run `python -m compileall workflows` as their owner)")
    db = database_for(settings.resolved_database_url)
    runtime = metrics_runtime(settings)
    client = await connect(settings, db, runtime=runtime)
    mode = "SendGrid" if settings.sendgrid_api_key else "the outbox (no SENDGRID_API_KEY)"
    log.info("worker on task queue %r at %s; emails go to %s", settings.temporal_task_queue,
             settings.temporal_address, mode)
    if runtime is not None:
        log.info("Temporal SDK metrics on http://%s:%s/metrics", settings.cadence_worker_metrics_host,
                 settings.cadence_worker_metrics_port)
    try:  # a lead that upserts an attribute the server does not know would fail its every task
        added = await ensure_search_attributes(client, settings.temporal_namespace)
    except SearchAttributesMissing as exc:
        raise SystemExit(f"the worker does not start: {exc}") from None
    if added:
        log.info("registered the search attributes %s", ", ".join(added))
    await ensure_sweep_schedule(client, settings)
    log.info("up to %s workflow tasks, %s lead activities, %s workflows cached, %s import and %s webhook threads",
             settings.cadence_worker_max_concurrent_workflow_tasks, settings.cadence_worker_max_concurrent_activities,
             settings.cadence_worker_max_cached_workflows, settings.cadence_worker_import_threads,
             settings.cadence_worker_webhook_threads)
    with (ThreadPoolExecutor(settings.cadence_worker_max_concurrent_activities, "lead-activity") as executor,
          ThreadPoolExecutor(settings.cadence_worker_import_threads, "import-activity") as import_executor,
          ThreadPoolExecutor(settings.cadence_worker_webhook_threads, "webhook-activity") as webhook_executor):
        await run_until_stopped([build_worker(client, settings, db, executor),
                                 build_import_worker(client, settings, db, import_executor),
                                 build_webhook_worker(client, settings, db, webhook_executor)])


async def run_until_stopped(workers: list[Worker]) -> None:
    """Run the workers until SIGTERM, SIGINT or SIGHUP, then stop taking work and give the activities
    in flight GRACEFUL_SHUTDOWN to finish, so a deploy does not cut a send in half."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    running = [asyncio.create_task(w.run()) for w in workers]
    stopped = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopped, *running], return_when=asyncio.FIRST_COMPLETED)
    if stopped in done:
        log.info("stopping: activities in flight have %s s to finish", GRACEFUL_SHUTDOWN.total_seconds())
    await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
    failures = [r for r in await asyncio.gather(*running, return_exceptions=True) if isinstance(r, BaseException)]
    if failures and not stop.is_set():  # a worker that failed on its own fails the process
        raise failures[0]
    stopped.cancel()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
