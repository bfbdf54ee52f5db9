"""The users activities of seed 004, in Python (built with componentize-py).

Same WIT world as the Rust example (examples/users/wit, plus outgoing
wasi:http), same rules, no SDK: the host caches these exports exactly like
Rust ones. Every body writes `users: ran <export>` to stderr, so a hit (which
never runs it) shows.

Given `USERS_SERVICE_URL` (a granted variable) and a grant for that host,
`fetch-user` asks the users service (examples/users-service) and `send-email`
posts to it, with the `API_TOKEN` secret (a placeholder the host replaces) as
bearer token; without it they work offline, like the Rust example.
"""

import json
import os
import sys
from urllib.parse import urlsplit

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.exports.api import Processed, User
from wit_world.imports import outgoing_handler, streams
from wit_world.imports import wasi_http_types as http
from wit_world.imports.activity_cache_types import Policy, Rule

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
        service = service_url()
        if service is None:
            return User(user_id, f"User {user_id}", f"user{user_id}@example.com")
        status, body = send(http.Method_Get(), f"{service}/users/{user_id}")
        if status != 200:
            # An exception traps: the call fails and nothing is cached.
            raise RuntimeError(f"fetch-user {user_id}: the users service answered {status}")
        user = json.loads(body)
        return User(user["id"], user["name"], user["email"])

    def process_data(self, data: User) -> Processed:
        ran("process-data")
        return Processed(True, data.name)

    def calculate(self, x: int) -> int:
        ran("calculate")
        return (x * FACTOR + 2**63) % 2**64 - 2**63  # wraps like an s64

    def send_email(self, to: str) -> None:
        ran(f"send-email to {len(to.encode())} bytes")
        service = service_url()
        if service is not None:
            status, _ = send(http.Method_Post(), f"{service}/emails", to.encode())
            if status != 202:
                raise RuntimeError(f"send-email: the users service answered {status}")


def service_url() -> str | None:
    """The users service, if the component is given one."""
    url = os.environ.get("USERS_SERVICE_URL")
    return url.rstrip("/") if url else None


def send(method: http.Method, url: str, body: bytes = b"") -> tuple[int, bytes]:
    """Sends a request through wasi:http (with the API_TOKEN secret as
    bearer token, if granted) and returns the status and the whole body."""
    parts = urlsplit(url)
    headers = []
    token = os.environ.get("API_TOKEN")
    if token:
        headers.append(("authorization", f"Bearer {token}".encode()))
    request = http.OutgoingRequest(http.Fields.from_list(headers))
    request.set_method(method)
    request.set_scheme(http.Scheme_Https() if parts.scheme == "https" else http.Scheme_Http())
    request.set_authority(parts.netloc)
    request.set_path_with_query(parts.path + (f"?{parts.query}" if parts.query else ""))
    outgoing = request.body()
    pending = outgoing_handler.handle(request, None)
    with outgoing.write() as stream:
        for start in range(0, len(body), 4096):  # at most 4096 bytes per write
            stream.blocking_write_and_flush(body[start : start + 4096])
    http.OutgoingBody.finish(outgoing, None)
    with pending.subscribe() as ready:
        ready.block()
    outcome = pending.get()
    assert isinstance(outcome, Ok), "the response is taken once"
    if isinstance(outcome.value, Err):
        raise RuntimeError(f"request to {parts.netloc} failed: {outcome.value.value}")
    response = outcome.value.value
    status = response.status()
    incoming = response.consume()
    received = bytearray()
    with incoming.stream() as stream:
        while True:
            try:
                received += stream.blocking_read(65536)
            except Err as error:
                if isinstance(error.value, streams.StreamError_Closed):
                    break
                raise
    return status, bytes(received)
