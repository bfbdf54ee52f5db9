// The users activities of seed 004, in JavaScript (built with
// componentize-js). Same WIT world as the Rust example (examples/users/wit),
// same rules, no SDK: the host caches these exports exactly like Rust ones.
// Every body writes `users: ran <export>` to stderr, so a hit (which never
// runs it) shows.

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

export const api = {
  fetchUser(userId) {
    ran("fetch-user");
    return { id: userId, name: `User ${userId}`, email: `user${userId}@example.com` };
  },
  processData(data) {
    ran("process-data");
    return { processed: true, user: data.name };
  },
  calculate(x) {
    ran("calculate");
    return BigInt.asIntN(64, x * FACTOR); // wraps like an s64
  },
  sendEmail(to) {
    ran(`send-email to ${new TextEncoder().encode(to).length} bytes`);
  },
};
