"""Helpers memoized in the worker's actor cache (activity:cache/actor-cache).

A helper's result is kept by the worker that computed it (one replica), for
every later call of any export that asks for it with the same key; two
instances asking at once compute it once.

    from actor_cache import memoize

    @memoize("load-model", ttl_ms=10 * 60 * 1000)
    def load_model(name: str) -> dict:
        ...

Keys and results are JSON (any `json.dumps`-able values); `get_or_compute`
takes and returns bytes.
"""

import functools
import json
from typing import Callable, Optional

from wit_world.imports import actor_cache
from wit_world.imports.actor_cache import Lookup_Compute, Lookup_Hit


def get_or_compute(
    helper: str, key: bytes, compute: Callable[[], bytes], ttl_ms: Optional[int] = None
) -> bytes:
    """The value cached for (`helper`, `key`), or `compute()`'s, stored."""
    lookup = actor_cache.fetch(helper, key)
    if isinstance(lookup, Lookup_Hit):
        return lookup.value
    assert isinstance(lookup, Lookup_Compute)
    # Leaving the block drops the computation: others waiting for it are
    # released even if compute() raises.
    with lookup.value as computation:
        value = compute()
        computation.finish(value, ttl_ms)
        return value


def memoize(helper: str, ttl_ms: Optional[int] = None):
    """A decorator: the function's result per arguments, via the actor cache."""

    def decorate(function):
        @functools.wraps(function)
        def memoized(*args, **kwargs):
            key = json.dumps([args, kwargs], sort_keys=True).encode()
            value = get_or_compute(
                helper,
                key,
                lambda: json.dumps(function(*args, **kwargs)).encode(),
                ttl_ms,
            )
            return json.loads(value)

        return memoized

    return decorate
