"""The default cache of the one-machine layout: a file cache that every process of the machine shares.

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

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache


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
