/**
 * Seed 004's UserWorkflow in TypeScript, the same as
 * examples/temporal/workflows.py: the activities are named by string,
 * because they live in a WebAssembly component served by
 * `activity-host temporal`, not in this Node.js process.
 */
import { proxyActivities } from '@temporalio/workflow';

/** A user, as the component's `fetch-user` returns it. */
export interface User {
  id: number;
  name: string;
  email: string;
}

/** What the component's `process-data` returns. */
export interface Processed {
  processed: boolean;
  user: string;
}

/** The component's activities this workflow calls, by activity type name. */
export interface UserActivities {
  'fetch-user'(userId: number): Promise<User>;
  'process-data'(user: User): Promise<Processed>;
}

// Both activities are cached by the host (rules declared in the component:
// fetch-user 1 h, process-data 30 min, by inputs). No `taskQueue`: they are
// scheduled on the workflow's own task queue, where the host polls.
const activities = proxyActivities<UserActivities>({
  startToCloseTimeout: '10 seconds',
});

/** Fetches user `userId`, then processes it: the component's answer. */
export async function UserWorkflow(userId: number): Promise<Processed> {
  const user = await activities['fetch-user'](userId);
  return await activities['process-data'](user);
}
