"""A workflow for the tests: calls one activity by name with the given
arguments, retry attempts, timeouts, and waits for a cancellation to be
confirmed by the worker."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType


@workflow.defn
class CallWorkflow:
    @workflow.run
    async def run(self, call: dict):
        heartbeat = call.get("heartbeat_s")
        return await workflow.execute_activity(
            call["activity"],
            args=call.get("args", []),
            start_to_close_timeout=timedelta(seconds=call.get("timeout_s", 30)),
            heartbeat_timeout=timedelta(seconds=heartbeat) if heartbeat else None,
            retry_policy=RetryPolicy(
                maximum_attempts=call.get("attempts", 1),
                initial_interval=timedelta(milliseconds=100),
                backoff_coefficient=1.0,
            ),
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
