// The __NAME__ activities, in JavaScript (componentize-js). `rules.declare`
// gives each export its cache rule; the host does all the caching. Guest
// stderr reaches the host's log: a cache hit never prints it.

const HOUR_MS = 60n * 60n * 1000n;

function rule(fn, policy, ttlMs) {
  return { function: fn, policy, ttlMs, cacheErrors: false, ignoreParams: [] };
}

export const rules = {
  declare() {
    return [rule("hello", "inputs", HOUR_MS), rule("record-event", "no-cache", undefined)];
  },
};

export const api = {
  hello(name) {
    console.error("__NAME__: ran hello");
    return `Hello, ${name}!`;
  },
  recordEvent(event) {
    console.error(`__NAME__: recorded ${event}`);
  },
};
