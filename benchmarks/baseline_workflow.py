"""The bare workflows the benchmarks compare the lead workflow with.

They live in their own module because Temporal's workflow sandbox re-imports a workflow's
module by name, and ``python -m benchmarks.schedule_bench`` runs that file as ``__main__``.
"""
from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

DONE_ACTIVITY = "BenchDone"  # the bare worker's one activity: does nothing, answers time.time()
ACTIVITY_TIMEOUT = timedelta(seconds=30)


@workflow.defn(name="BenchTrivialWorkflow")
class TrivialWorkflow:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(1)
        return "done"


@workflow.defn(name="BenchOneActivityWorkflow")
class OneActivityWorkflow:
    """Start, one activity, complete: the least a workflow that does something costs."""

    @workflow.run
    async def run(self) -> float:
        return await workflow.execute_activity(DONE_ACTIVITY, result_type=float,
                                               start_to_close_timeout=ACTIVITY_TIMEOUT)


@workflow.defn(name="BenchSignalWorkflow")
class SignalThenActivityWorkflow:
    """Waits for the `go` signal, then runs one activity; answers when that activity ran."""

    def __init__(self) -> None:
        self._go = False

    @workflow.signal
    def go(self) -> None:
        self._go = True

    @workflow.run
    async def run(self) -> float:
        await workflow.wait_condition(lambda: self._go)
        return await workflow.execute_activity(DONE_ACTIVITY, result_type=float,
                                               start_to_close_timeout=ACTIVITY_TIMEOUT)
