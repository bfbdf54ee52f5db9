"""Runs workflows for the Temporal tests and prints one JSON line per run.

    python driver.py ADDRESS TASK_QUEUE PLAN_JSON

PLAN: {"runs": [{"workflow": "UserWorkflow" | "CallWorkflow", "arg": ...,
"cancel_after_s": seconds (optional)}], "concurrent": bool}. A Python worker
for the workflows runs in this process; the activities run in
`activity-host temporal` on the same task queue.
Each line: {"result": ...} or {"error": [the failure and its causes]}.
"""

import asyncio
import json
import os
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples", "temporal"))

from temporalio.client import Client  # noqa: E402
from temporalio.exceptions import ApplicationError  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from calls import CallWorkflow  # noqa: E402
from workflows import UserWorkflow  # noqa: E402

WORKFLOWS = {"UserWorkflow": UserWorkflow, "CallWorkflow": CallWorkflow}


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
        workflow.run, run["arg"], id=f"test-{uuid.uuid4().hex}", task_queue=task_queue
    )
    if "cancel_after_s" in run:
        await asyncio.sleep(run["cancel_after_s"])
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
