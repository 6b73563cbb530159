"""The store's caches: a file cache every process of one machine shares, and Redis behind a breaker.

Without REDIS_URL the rate limits (store.throttling) count in Django's file cache under
DATA_DIR, so gunicorn's processes and threads see the same counters. Django's file cache
reads and rewrites a value in two steps, which loses increments when two processes count
at once; here `add` and `incr` hold an exclusive lock on the cache directory, so a count is
exact across processes, and `incr` keeps the entry's expiry (a rate window must not grow).
Full, it drops expired entries before Django's random culling touches live counters.
"""
import fcntl
import os
import pickle
import tempfile
import time
import zlib
from contextlib import contextmanager
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCacheClient
from django_prometheus.cache.backends.redis import NativeRedisCache

from store.circuit import redis_breaker


class SharedFileCache(FileBasedCache):
    @contextmanager
    def _locked(self):
        self._createdir()
        with open(os.path.join(self._dir, ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None) -> bool:
        with self._locked():
            return super().add(key, value, timeout, version)

    def incr(self, key, delta: int = 1, version=None) -> int:
        """Atomic across processes; raises ValueError for a missing or expired key, as Django's caches do."""
        with self._locked():
            fname = self._key_to_file(key, version)
            try:
                with open(fname, "rb") as f:
                    expiry = pickle.load(f)
                    value = pickle.loads(zlib.decompress(f.read()))
            except FileNotFoundError:
                raise ValueError(f"Key '{key}' not found") from None
            if expiry is not None and expiry < time.time():
                self._delete(fname)
                raise ValueError(f"Key '{key}' not found")
            value += delta
            # Rewritten in place of the old file: no new entry, so no culling (which lists the folder).
            fd, tmp_path = tempfile.mkstemp(dir=self._dir)
            try:
                with open(fd, "wb") as f:
                    f.write(pickle.dumps(expiry, self.pickle_protocol))
                    f.write(zlib.compress(pickle.dumps(value, self.pickle_protocol)))
                os.replace(tmp_path, fname)
            except BaseException:
                os.remove(tmp_path)
                raise
            return value

    def _cull(self) -> None:
        files = self._list_cache_files()
        if len(files) < self._max_entries:
            return
        now = time.time()
        for fname in files:
            try:
                with open(fname, "rb") as f:
                    expired = (expiry := pickle.load(f)) is not None and expiry < now
            except (OSError, EOFError, pickle.UnpicklingError):
                continue
            if expired:
                self._delete(fname)
        super()._cull()


class _RedisClients(RedisCacheClient):
    """Django's Redis client, with one redis.Redis per connection pool (thread-safe), where Django
    makes a new one, with its table of response callbacks, for every call."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None or client.connection_pool is not pool:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class CircuitRedisCache(NativeRedisCache):
    """Django's Redis cache (counted by django-prometheus) behind this process' Redis circuit
    breaker (store.circuit): while Redis is known to be down, a call fails at once instead of
    waiting REDIS_TIMEOUT."""

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = _RedisClients


def _through_breaker(name: str):
    method = getattr(NativeRedisCache, name)

    def guarded(self, *args, **kwargs):
        return redis_breaker().call(method, self, *args, **kwargs)

    guarded.__name__ = name
    return guarded


for _name in ("add", "get", "set", "touch", "delete", "get_many", "has_key", "incr", "set_many", "delete_many",
              "clear"):
    setattr(CircuitRedisCache, _name, _through_breaker(_name))
