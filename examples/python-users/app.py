"""The users activities of seed 004, in Python (built with componentize-py).

Same WIT world as the Rust example (examples/users/wit), same rules, no SDK:
the host caches these exports exactly like Rust ones. Every body writes
`users: ran <export>` to stderr, so a hit (which never runs it) shows.
"""

import sys

from wit_world import exports
from wit_world.exports.api import Processed, User
from wit_world.imports.types import Policy, Rule

HOUR_MS = 60 * 60 * 1000
# scripts/build-guests.sh builds a variant with another factor, to show that
# `task-source` keys follow the code.
FACTOR = 2


def ran(export: str) -> None:
    print(f"users: ran {export}", file=sys.stderr, flush=True)


class Rules(exports.Rules):
    def declare(self) -> list[Rule]:
        return [
            Rule("fetch-user", Policy.INPUTS, HOUR_MS, False, []),
            Rule("process-data", Policy.INPUTS, HOUR_MS // 2, False, []),
            Rule("calculate", Policy.TASK_SOURCE, None, False, []),
            Rule("send-email", Policy.NO_CACHE, None, False, []),
        ]


class Api(exports.Api):
    def fetch_user(self, user_id: int) -> User:
        ran("fetch-user")
        return User(user_id, f"User {user_id}", f"user{user_id}@example.com")

    def process_data(self, data: User) -> Processed:
        ran("process-data")
        return Processed(True, data.name)

    def calculate(self, x: int) -> int:
        ran("calculate")
        return (x * FACTOR + 2**63) % 2**64 - 2**63  # wraps like an s64

    def send_email(self, to: str) -> None:
        ran(f"send-email to {len(to.encode())} bytes")
