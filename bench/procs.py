"""The store's processes under test: gunicorn (web) and `manage.py qcluster` (workers).

Each runs in its own session (process group), so a drill can kill -9 the whole group, and
so we can add up the CPU time of every process in it.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.env import BASE_DIR, PYTHON, Backend

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _group_stats(pgid: int):
    """(pid, fields after the command name) of every process in group `pgid`, zombies excluded."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        # fields[0] is field 3 (state); pgrp is field 5.
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            yield int(entry), fields


def group_pids(pgid: int) -> list[int]:
    return [pid for pid, _ in _group_stats(pgid)]


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in process group `pgid` (and its reaped children)."""
    # utime, stime, cutime, cstime are fields 14..17.
    return sum(sum(int(v) for v in fields[11:15]) for _, fields in _group_stats(pgid)) / CLOCK_TICKS


def process_cpu_seconds(pids) -> dict[int, float]:
    """User + system CPU so far of each of `pids` that runs on this machine and is alive."""
    seconds = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        seconds[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return seconds


def group_rss_bytes(pgid: int) -> int:
    """Resident memory of every live process in group `pgid`, summed (/proc/<pid>/statm; pages
    shared by forked processes count once per process, as each process's RSS shows them)."""
    total = 0
    for pid in group_pids(pgid):
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
        except (OSError, IndexError, ValueError):
            continue  # it exited meanwhile
    return total


def group_connections(pgid: int, ports) -> dict[int, int]:
    """Established TCP connections from the processes of group `pgid` to each server port of
    `ports`: their sockets (/proc/<pid>/fd) found in /proc/net/tcp and tcp6. A socket a forked
    process inherited counts once, as the server sees it."""
    inodes = set()
    for pid in group_pids(pgid):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue  # it exited meanwhile
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    counts = dict.fromkeys(ports, 0)
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()  # remote address is field 2 (hex ip:port), state 3 (01: established), inode 9
            port = int(fields[2].rsplit(":", 1)[1], 16)
            if port in counts and fields[3] == "01" and fields[9] in inodes:
                counts[port] += 1
    return counts


class Sampler:
    """Calls `sample()` every `every` seconds in a thread while in the `with` block, and once at its end."""

    def __init__(self, every: float = 0.5) -> None:
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)

    def sample(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.every):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()  # the end: the cluster is still up, its work done


class RssSampler(Sampler):
    """group_rss_bytes(pgid), sampled: peak and last, in MB."""

    def __init__(self, pgid: int, every: float = 0.5) -> None:
        super().__init__(every)
        self.pgid = pgid
        self.samples: list[int] = []

    def sample(self) -> None:
        if rss := group_rss_bytes(self.pgid):
            self.samples.append(rss)

    def summary(self) -> dict:
        mb = 1024 * 1024
        return {"rss_peak_mb": round(max(self.samples) / mb, 1) if self.samples else None,
                "rss_end_mb": round(self.samples[-1] / mb, 1) if self.samples else None,
                "rss_samples": len(self.samples), "rss_every_s": self.every}


class ConnectionSampler(Sampler):
    """group_connections(pgid, ports), sampled: the peak per port."""

    def __init__(self, pgid: int, ports, every: float = 0.5) -> None:
        super().__init__(every)
        self.pgid = pgid
        self.peak = dict.fromkeys(ports, 0)

    def sample(self) -> None:
        for port, count in group_connections(self.pgid, self.peak).items():
            self.peak[port] = max(self.peak[port], count)


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (all cores; /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / CLOCK_TICKS


class Managed:
    """A subprocess in its own process group, logging to a file in the store's data dir."""

    name = "process"

    def __init__(self, backend: Backend, env: dict[str, str]) -> None:
        self.backend = backend
        self.env = env
        self.process: subprocess.Popen | None = None
        self.log_path = backend.data_dir / f"{self.name}.log"
        self._log = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def spawn(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in _reap()
        self._log_offset = self.log_path.stat().st_size
        self.process = subprocess.Popen(self.command(), cwd=BASE_DIR, env=self.env, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cpu_seconds(self) -> float:
        return group_cpu_seconds(self.pid) if self.alive() else 0.0

    def signal(self, signum: int) -> None:
        if self.alive():
            os.kill(self.pid, signum)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM (graceful), then SIGKILL of the whole group if it does not go."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self._kill_group()
        self._reap()

    def kill(self) -> None:
        """kill -9 the whole process group, as a crash (or the OOM killer) would."""
        self._kill_group()
        self._reap()

    def _kill_group(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        # Wait until no live process of the group is left (workers may outlive the parent briefly).
        deadline = time.monotonic() + 10
        while group_pids(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.01)

    def _reap(self) -> None:
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.process = None
        if self._log:
            self._log.close()
            self._log = None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def new_output(self) -> str:
        with open(self.log_path, "rb") as stream:
            stream.seek(self._log_offset)
            return stream.read().decode(errors="replace")

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        raise NotImplementedError


class Server(Managed):
    """gunicorn store.wsgi: the Procfile's shape (gthread workers), DEBUG off, no access log."""

    name = "gunicorn"

    def __init__(self, backend: Backend, env: dict[str, str], *, workers: int = 2, threads: int = 4,
                 port: int | None = None) -> None:
        super().__init__(backend, env)
        self.workers, self.threads = workers, threads
        self.port = port  # None: the OS picks a free one when gunicorn binds (no race with other runs)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [PYTHON, "-m", "gunicorn", "store.wsgi", "--bind", f"127.0.0.1:{self.port or 0}",
                "--workers", str(self.workers), "--threads", str(self.threads),
                "--worker-class", "gthread", "--graceful-timeout", "20", "--timeout", "60",
                "--error-logfile", "-", "--log-level", "info"]

    def start(self, timeout: float = 30) -> None:
        self.spawn()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"gunicorn exited:\n{self.log_tail()}")
            # Our own gunicorn's "Listening at: http://127.0.0.1:<port>" (not another run's server).
            listening = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", self.new_output())
            if not listening:
                time.sleep(0.05)
                continue
            self.port = int(listening.group(1))
            try:
                with urllib.request.urlopen(f"{self.url}/livez", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer /livez within {timeout}s:\n{self.log_tail()}")


class Cluster(Managed):
    """`manage.py qcluster` with Q_WORKERS workers."""

    name = "qcluster"

    def command(self) -> list[str]:
        return [PYTHON, str(BASE_DIR / "manage.py"), "qcluster"]

    def start(self, timeout: float = 30) -> None:
        self.spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"qcluster exited:\n{self.log_tail()}")
            if " running" in self.new_output():  # "Q Cluster <name> running."
                return
            time.sleep(0.05)
        raise RuntimeError(f"qcluster did not report running within {timeout}s:\n{self.log_tail()}")

    def database_pool(self) -> dict | None:
        """The database pool each of its processes opens (None: SQLite, or DB_POOL=0): the store's
        settings read as a `qcluster` process reads them, since they size the pool by the command."""
        code = ("import json; from django.conf import settings; "
                "print(json.dumps(settings.DATABASES['default'].get('OPTIONS', {}).get('pool')))")
        result = subprocess.run([PYTHON, "-c", code, "qcluster"], cwd=BASE_DIR, env=self.env, capture_output=True,
                                text=True)
        if result.returncode != 0:
            raise RuntimeError(f"the cluster's settings did not load:\n{result.stderr[-3000:]}")
        return json.loads(result.stdout.splitlines()[-1])


def store_start(backend) -> tuple[Server, Cluster]:
    """The store's web process, then its worker cluster, both in `backend`'s environment; the
    web process is stopped again when the cluster does not come up (RuntimeError)."""
    server, cluster = Server(backend, backend.env()), Cluster(backend, backend.env())
    server.start()
    try:
        cluster.start()
    except BaseException:
        server.stop()
        raise
    return server, cluster
