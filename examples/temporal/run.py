"""Runs seed 004's story against a Temporal server: a Python worker for the
workflow (the activities run in `activity-host temporal` on the same task
queue), then UserWorkflow twice with the same input.

    python run.py --address 127.0.0.1:7233 --task-queue my-queue [--user-id 123]
"""

import argparse
import asyncio
import os
import sys
import uuid
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from workflows import UserWorkflow


async def story(address: str, task_queue: str, user_id: int) -> None:
    client = await Client.connect(address)
    async with Worker(client, task_queue=task_queue, workflows=[UserWorkflow]):
        for run in (1, 2):
            result = await client.execute_workflow(
                UserWorkflow.run,
                user_id,
                id=f"user-workflow-{run}-{uuid.uuid4().hex[:8]}",
                task_queue=task_queue,
                execution_timeout=timedelta(minutes=1),
            )
            print(f"workflow execution {run}: {result}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", default="127.0.0.1:7233")
    parser.add_argument("--task-queue", default="my-queue")
    parser.add_argument("--user-id", type=int, default=123)
    args = parser.parse_args()
    asyncio.run(story(args.address, args.task_queue, args.user_id))
    # The Python SDK can crash while the interpreter shuts down, after all
    # the work is done (temporalio/sdk-python#300): leave at once instead.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
