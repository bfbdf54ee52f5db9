"""The __NAME__ activities, in Python (componentize-py).

`Rules.declare` gives each export its cache rule; the host does all the
caching. Guest stderr reaches the host's log: a cache hit never prints it.
"""

import sys

from wit_world import exports
from wit_world.imports.types import Policy, Rule

HOUR_MS = 60 * 60 * 1000


class Rules(exports.Rules):
    def declare(self) -> list[Rule]:
        # Rule(function, policy, ttl-ms, cache-errors, ignore-params)
        return [
            Rule("hello", Policy.INPUTS, HOUR_MS, False, []),
            Rule("record-event", Policy.NO_CACHE, None, False, []),
        ]


class Api(exports.Api):
    def hello(self, name: str) -> str:
        print("__NAME__: ran hello", file=sys.stderr, flush=True)
        return f"Hello, {name}!"

    def record_event(self, event: str) -> None:
        print(f"__NAME__: recorded {event}", file=sys.stderr, flush=True)
