// The users activities of seed 004, in JavaScript (built with
// componentize-js). Same WIT world as the Rust example (examples/users/wit,
// plus the environment), same rules, no SDK: the host caches these exports
// exactly like Rust ones. Every body writes `users: ran <export>` to stderr,
// so a hit (which never runs it) shows.
//
// Given `USERS_SERVICE_URL` (a granted variable) and a grant for that host,
// `fetchUser` asks the users service (examples/users-service) and `sendEmail`
// posts to it with `fetch`, with the `API_TOKEN` secret (a placeholder the
// host replaces) as bearer token; without it they work offline, like the
// Rust example. componentize-js runs an async export's event loop until its
// promise settles: the component function stays synchronous.

import { getEnvironment } from "wasi:cli/environment@0.2.12";

const HOUR_MS = 60n * 60n * 1000n;
// scripts/build-guests.sh builds a variant with another factor, to show that
// `task-source` keys follow the code.
const FACTOR = 2n;

function ran(exportName) {
  console.error(`users: ran ${exportName}`);
}

function rule(fn, policy, ttlMs) {
  return { function: fn, policy, ttlMs, cacheErrors: false, ignoreParams: [] };
}

export const rules = {
  declare() {
    return [
      rule("fetch-user", "inputs", HOUR_MS),
      rule("process-data", "inputs", HOUR_MS / 2n),
      rule("calculate", "task-source", undefined),
      rule("send-email", "no-cache", undefined),
    ];
  },
};

function variable(name) {
  const found = getEnvironment().find(([key]) => key === name);
  return found ? found[1] : undefined;
}

// Sends a request to the users service (a rejected promise traps the call:
// nothing is cached).
async function send(path, init) {
  const service = variable("USERS_SERVICE_URL").replace(/\/+$/, "");
  const token = variable("API_TOKEN");
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const response = await fetch(`${service}${path}`, { ...init, headers });
  return response;
}

export const api = {
  async fetchUser(userId) {
    ran("fetch-user");
    if (variable("USERS_SERVICE_URL") === undefined) {
      return { id: userId, name: `User ${userId}`, email: `user${userId}@example.com` };
    }
    const response = await send(`/users/${userId}`, { method: "GET" });
    if (response.status !== 200) {
      throw new Error(`fetch-user ${userId}: the users service answered ${response.status}`);
    }
    const user = await response.json();
    return { id: BigInt(user.id), name: user.name, email: user.email };
  },
  processData(data) {
    ran("process-data");
    return { processed: true, user: data.name };
  },
  calculate(x) {
    ran("calculate");
    return BigInt.asIntN(64, x * FACTOR); // wraps like an s64
  },
  async sendEmail(to) {
    ran(`send-email to ${new TextEncoder().encode(to).length} bytes`);
    if (variable("USERS_SERVICE_URL") !== undefined) {
      const response = await send("/emails", { method: "POST", body: to });
      if (response.status !== 202) {
        throw new Error(`send-email: the users service answered ${response.status}`);
      }
    }
  },
};
