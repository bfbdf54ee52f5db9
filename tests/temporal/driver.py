"""Runs workflows for the Temporal tests and prints one JSON line per run.

    python driver.py ADDRESS TASK_QUEUE PLAN_JSON

PLAN: {"runs": [{"workflow": "UserWorkflow" | "CallWorkflow", "arg": ...,
"cancel_when_started": bool (optional)}], "concurrent": bool}. A run with
cancel_when_started is cancelled half a second after its activity started. A Python worker
for the workflows runs in this process; the activities run in
`activity-host temporal` on the same task queue.
Each line: {"result": ...} or {"error": [the failure and its causes]}.
"""

import asyncio
import json
import os
import sys
import uuid
from datetime import timedelta

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples", "temporal"))

from temporalio.api.enums.v1 import PendingActivityState  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.exceptions import ApplicationError  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from calls import CallWorkflow  # noqa: E402
from workflows import UserWorkflow  # noqa: E402

WORKFLOWS = {"UserWorkflow": UserWorkflow, "CallWorkflow": CallWorkflow}


async def activity_started(handle) -> None:
    """Waits until the workflow's activity runs on a worker."""
    while True:
        description = await handle.describe()
        pending = description.raw_description.pending_activities
        if any(a.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED for a in pending):
            return
        await asyncio.sleep(0.1)


def failure_chain(error: BaseException) -> list:
    chain = []
    while error is not None:
        entry = {"class": type(error).__name__, "message": str(error)}
        if isinstance(error, ApplicationError):
            entry.update(type=error.type, details=list(error.details), non_retryable=error.non_retryable)
        chain.append(entry)
        error = error.__cause__
    return chain


async def run_one(client: Client, task_queue: str, run: dict) -> dict:
    workflow = WORKFLOWS[run["workflow"]]
    handle = await client.start_workflow(
        workflow.run,
        run["arg"],
        id=f"test-{uuid.uuid4().hex}",
        task_queue=task_queue,
        execution_timeout=timedelta(minutes=2),
    )
    if run.get("cancel_when_started"):
        await activity_started(handle)
        await asyncio.sleep(0.5)
        await handle.cancel()
    try:
        return {"result": await handle.result()}
    except Exception as error:  # the workflow failed: report its cause chain
        return {"error": failure_chain(error)}


async def main(address: str, task_queue: str, plan: dict) -> None:
    client = await Client.connect(address)
    async with Worker(client, task_queue=task_queue, workflows=list(WORKFLOWS.values())):
        if plan.get("concurrent"):
            results = await asyncio.gather(*(run_one(client, task_queue, r) for r in plan["runs"]))
        else:
            results = [await run_one(client, task_queue, r) for r in plan["runs"]]
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
    # The Python SDK can crash while the interpreter shuts down, after all
    # the work is done (temporalio/sdk-python#300): leave at once instead.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
