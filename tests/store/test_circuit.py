"""Redis' circuit breaker: a Redis that is down costs one timeout, then calls fail at once
until one probe finds it back."""
import time

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from store.cache import CircuitRedisCache
from store.circuit import CircuitOpen

UNREACHABLE = "redis://127.0.0.1:1/0"


def test_after_a_failure_calls_fail_at_once_until_the_probe(settings):
    settings.REDIS_CIRCUIT_SECONDS = 0.3
    cache = CircuitRedisCache(UNREACHABLE, {"OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}})

    with pytest.raises(RedisConnectionError) as first:
        cache.get("k")
    started = time.monotonic()
    with pytest.raises(CircuitOpen):
        cache.incr("k")
    with pytest.raises(CircuitOpen):
        cache.add("k", 1)
    assert not isinstance(first.value, CircuitOpen)
    assert time.monotonic() - started < 0.05  # no call went to Redis

    time.sleep(0.35)
    with pytest.raises(RedisConnectionError) as probe:
        cache.get("k")  # the probe goes to Redis, fails, and opens the circuit again
    assert not isinstance(probe.value, CircuitOpen)
    with pytest.raises(CircuitOpen):
        cache.get("k")


def test_a_redis_that_answers_keeps_the_circuit_closed(settings):
    from tests.ops.conftest import TEST_REDIS_URL

    cache = CircuitRedisCache(TEST_REDIS_URL, {"KEY_PREFIX": f"circuit-{time.time_ns()}"})
    assert cache.add("k", 1) is True
    assert cache.incr("k") == 2
    with pytest.raises(ValueError):
        cache.incr("missing")  # an answer, not an outage
    assert cache.get("k") == 2
    cache.delete("k")
