"""Measures activities through `activity-host temporal`, from the workflow
client, in one run: a cache hit against a bare (no-cache, trivial) activity
on the same worker and server, and a miss of a 100 ms activity against its
hit. Prints medians and their ratios.

    python bench.py --address 127.0.0.1:7233 --task-queue my-queue [--runs 30]

Expects the users and typed components on the worker (examples/temporal/run.sh --bench).
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker


@workflow.defn
class OneActivity:
    @workflow.run
    async def run(self, call: list) -> Any:
        name, args = call
        return await workflow.execute_activity(
            name, args=args, start_to_close_timeout=timedelta(seconds=30)
        )


async def median_ms(client: Client, task_queue: str, calls) -> float:
    times = []
    for call in calls:
        started = time.perf_counter()
        await client.execute_workflow(
            OneActivity.run,
            call,
            id=f"bench-{uuid.uuid4().hex}",
            task_queue=task_queue,
            execution_timeout=timedelta(minutes=1),
        )
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def bench(address: str, task_queue: str, runs: int) -> None:
    client = await Client.connect(address)
    async with Worker(client, task_queue=task_queue, workflows=[OneActivity]):
        await median_ms(client, task_queue, [["fetch-user", [1]]] * 3)  # warm up; stores the entry
        bypass = await median_ms(client, task_queue, [["send-email", ["a@example.com"]]] * runs)
        hit = await median_ms(client, task_queue, [["fetch-user", [1]]] * runs)
        base = 10_000 + int(time.time()) % 1_000_000 * 100  # new ids: misses
        miss = await median_ms(client, task_queue, [["slow", [base + i, 100]] for i in range(runs)])
        slow_hit = await median_ms(client, task_queue, [["slow", [base, 100]]] * runs)
    print(f"workflow with one activity, median of {runs} (ms, from the client):")
    print(f"  bare activity (no-cache, trivial body)  {bypass:8.1f}")
    print(f"  cache hit (fetch-user)                  {hit:8.1f}   {hit / bypass:.2f} x bare")
    print(f"  miss of a 100 ms activity (slow)        {miss:8.1f}")
    print(f"  hit of the same activity                {slow_hit:8.1f}   {slow_hit / miss:.2f} x its miss")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", default="127.0.0.1:7233")
    parser.add_argument("--task-queue", default="my-queue")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(bench(args.address, args.task_queue, args.runs))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # temporalio/sdk-python#300: the SDK can crash at interpreter exit
