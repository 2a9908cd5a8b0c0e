"""A bare Temporal worker for the end-to-end benchmark's baselines, in a process of its own, as
the product's worker is: the workflows of `benchmarks.baseline_workflow` and one activity that does
nothing but answer the time it ran, in a thread pool like the product's activities.

    python -m benchmarks.bare_worker TEMPORAL_ADDRESS TASK_QUEUE
"""
from __future__ import annotations

import asyncio
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from benchmarks.baseline_workflow import DONE_ACTIVITY, OneActivityWorkflow, SignalThenActivityWorkflow
from worker import run_until_stopped


@activity.defn(name=DONE_ACTIVITY)
def done() -> float:
    return time.time()


async def main(address: str, task_queue: str) -> None:
    client = await Client.connect(address)
    with ThreadPoolExecutor(max_workers=32) as executor:  # as many threads as the product's worker
        await run_until_stopped([Worker(
            client, task_queue=task_queue, workflows=[OneActivityWorkflow, SignalThenActivityWorkflow],
            activities=[done], activity_executor=executor, max_concurrent_activities=executor._max_workers)])


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:3]))
