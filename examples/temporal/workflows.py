"""Seed 004's UserWorkflow, unchanged but for one thing: the activities are
named by string, because they live in a WebAssembly component served by
`activity-host temporal`, not in this Python process."""

from datetime import timedelta

from temporalio import workflow


@workflow.defn
class UserWorkflow:
    @workflow.run
    async def run(self, user_id: int) -> dict:
        # Both activities are cached by the host (rules declared in the
        # component: fetch-user 1 h, process-data 30 min, by inputs).
        user = await workflow.execute_activity(
            "fetch-user",
            user_id,
            start_to_close_timeout=timedelta(seconds=10),
        )
        return await workflow.execute_activity(
            "process-data",
            user,
            start_to_close_timeout=timedelta(seconds=10),
        )
