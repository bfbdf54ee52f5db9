/**
 * Runs workflows for the Temporal tests, like tests/temporal/driver.py, and
 * prints one JSON line per run:
 *
 *     node lib/driver.js ADDRESS TASK_QUEUE PLAN_JSON
 *
 * PLAN: {"runs": [{"workflow": "UserWorkflow", "arg": ...}], "concurrent": bool}
 * (driver.py's subset: no CallWorkflow, no cancel_when_started). A TypeScript
 * worker for the workflows runs in this process (bundled from
 * lib/workflows.js, no activities: it polls no activity tasks); the
 * activities run in `activity-host temporal` on the same task queue.
 * Each line: {"result": ...} or {"error": [the failure and its causes]}.
 */
import { randomUUID } from 'node:crypto';

import { ApplicationFailure, Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';

/** The workflows of lib/workflows.js a plan may name. */
const WORKFLOWS = new Set(['UserWorkflow']);

/** One workflow execution of a plan. */
interface Run {
  workflow: string;
  arg: unknown;
  cancel_when_started?: boolean;
}

/** What to run: the executions, one after another unless `concurrent`. */
interface Plan {
  runs: Run[];
  concurrent?: boolean;
}

/** The failure and its causes, outermost first, as driver.py reports them. */
function failureChain(error: unknown): Record<string, unknown>[] {
  const chain = [];
  for (let e = error; e instanceof Error; e = e.cause) {
    const entry: Record<string, unknown> = { class: e.name, message: e.message };
    if (e instanceof ApplicationFailure) {
      Object.assign(entry, { type: e.type ?? null, details: e.details ?? [], non_retryable: e.nonRetryable });
    }
    chain.push(entry);
  }
  return chain;
}

/** Executes one run to its end: `{"result": …}` or `{"error": [...]}`. */
async function runOne(client: Client, taskQueue: string, run: Run): Promise<object> {
  if (!WORKFLOWS.has(run.workflow) || run.cancel_when_started) {
    throw new Error(`driver.ts runs only ${[...WORKFLOWS]}, uncancelled: ${JSON.stringify(run)}`);
  }
  try {
    const result = await client.workflow.execute(run.workflow, {
      args: [run.arg],
      workflowId: `test-${randomUUID().replaceAll('-', '')}`,
      taskQueue,
      workflowExecutionTimeout: '2 minutes',
    });
    return { result };
  } catch (error) {
    // The workflow failed: report its cause chain.
    return { error: failureChain(error) };
  }
}

/** Runs `plan` with a workflow worker on `taskQueue`, then prints the results. */
async function main(address: string, taskQueue: string, plan: Plan): Promise<void> {
  // Only warnings and errors from the SDK, on stderr: stdout is the results.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const workerConnection = await NativeConnection.connect({ address });
  const clientConnection = await Connection.connect({ address });
  try {
    const worker = await Worker.create({
      connection: workerConnection,
      taskQueue,
      workflowsPath: require.resolve('./workflows'),
    });
    const client = new Client({ connection: clientConnection });
    const results = await worker.runUntil(async () => {
      if (plan.concurrent) {
        return Promise.all(plan.runs.map((run) => runOne(client, taskQueue, run)));
      }
      const results = [];
      for (const run of plan.runs) {
        results.push(await runOne(client, taskQueue, run));
      }
      return results;
    });
    for (const result of results) {
      console.log(JSON.stringify(result));
    }
  } finally {
    await clientConnection.close();
    await workerConnection.close();
  }
}

const [address, taskQueue, plan] = process.argv.slice(2);
if (plan === undefined) {
  console.error('usage: node lib/driver.js ADDRESS TASK_QUEUE PLAN_JSON');
  process.exit(2);
}
main(address, taskQueue, JSON.parse(plan)).catch((error) => {
  console.error(error);
  process.exit(1);
});
