"""The trivial workflow the workflow benchmark compares whole lead-cadence runs with.

It lives in its own module because Temporal's workflow sandbox re-imports a workflow's
module by name, and ``python -m benchmarks.schedule_bench`` runs that file as ``__main__``.
"""
from __future__ import annotations

from temporalio import workflow


@workflow.defn(name="BenchTrivialWorkflow")
class TrivialWorkflow:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(1)
        return "done"
