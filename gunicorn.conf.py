"""gunicorn's hooks for the web process (gunicorn reads ./gunicorn.conf.py by default).

With PROMETHEUS_MULTIPROC_DIR set, gunicorn's worker processes write their metrics to files
there and /metrics adds them up (store/metrics.py explains). The directory belongs to this
gunicorn alone: it is emptied when gunicorn starts, and a worker's live gauges are dropped
when it exits. Without the variable these hooks do nothing.
"""
import os
from pathlib import Path


def on_starting(server):
    # Same as store.metrics.multiprocess_dir_reset, without importing Django into the master.
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink(missing_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
