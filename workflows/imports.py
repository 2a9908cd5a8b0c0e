"""One workflow per uploaded lead list, id `import-<id>`, on the import task queue.

It works through the list in bounded steps, each an activity (see `activities/imports.py`):
write the file's rows to the database, enrol them a batch at a time, then start the created
leads' cadences one every `start_interval_ms`, so a list's first touches are spread rather
than sent at once. Every activity finds its work in the database (rows still pending, leads not
started) and records each row's outcome as it goes, so a retry or a restarted worker resumes
where the import was and never enrols a row twice. Only ids and counts pass through Temporal:
the list itself never enters the workflow's history. After `batches_per_run` activities (or
when the server suggests it) the workflow continues as new, so its history stays bounded.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

IMPORT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["ImportNotFound"],
)
HEARTBEAT = timedelta(seconds=15)  # a killed worker's batch is retried elsewhere this soon
STARTS_PER_ACTIVITY_SECONDS = 60  # a start activity paces about a minute of starts


@dataclass
class ImportInput:
    import_id: str
    batch_size: int = 100
    start_interval_ms: int = 2000
    batches_per_run: int = 200
    rows_written: bool = False
    enrolled: bool = False


@dataclass
class ImportStep:
    import_id: str
    limit: int
    start_interval_ms: int = 0


@dataclass
class ImportStepResult:
    done: int  # rows enrolled, or leads started, by this activity
    remaining: int  # rows still pending, or created leads not started yet


def import_workflow_id(import_id: str) -> str:
    return f"import-{import_id}"


def starts_per_activity(start_interval_ms: int) -> int:
    if start_interval_ms <= 0:
        return 500
    return max(1, min(500, STARTS_PER_ACTIVITY_SECONDS * 1000 // start_interval_ms))


@workflow.defn
class ImportLeadsWorkflow:
    def __init__(self) -> None:
        self._activities = 0

    @workflow.run
    async def run(self, input: ImportInput) -> None:
        if not input.rows_written:
            await workflow.execute_activity(
                "write_import_rows", input.import_id, start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(minutes=2), retry_policy=IMPORT_RETRY,
            )
            input.rows_written = True
        while not input.enrolled:
            result = await self._step("enrol_import_batch", ImportStep(input.import_id, input.batch_size))
            input.enrolled = result.remaining == 0
            self._maybe_continue(input)
        while True:
            result = await self._step("start_imported_leads", ImportStep(
                input.import_id, starts_per_activity(input.start_interval_ms), input.start_interval_ms))
            if result.remaining == 0:
                return
            self._maybe_continue(input)

    async def _step(self, activity: str, step: ImportStep) -> ImportStepResult:
        self._activities += 1
        return await workflow.execute_activity(
            activity, step, result_type=ImportStepResult, start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=HEARTBEAT, retry_policy=IMPORT_RETRY,
        )

    def _maybe_continue(self, input: ImportInput) -> None:
        if self._activities >= input.batches_per_run or workflow.info().is_continue_as_new_suggested():
            workflow.continue_as_new(input)
