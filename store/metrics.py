"""Serving the Prometheus metrics: /metrics on the web, a metrics port on each worker cluster.

Processes and where their metrics go:

- Without PROMETHEUS_MULTIPROC_DIR (runserver, tests): each process keeps its metrics in
  memory and /metrics shows that process's.
- gunicorn runs several worker processes, and a scrape reaches one of them; django-q2's
  `qcluster` forks the processes that run the tasks. So both run prometheus_client's
  **multiprocess mode**: with PROMETHEUS_MULTIPROC_DIR set, every process writes its
  metrics to files there and the exporter adds them up. Each process group needs a
  directory of its own (one per web container, one per `qcluster`), emptied when the group
  starts: gunicorn.conf.py does it for the web, `worker_metrics_start` for a cluster.
- A `qcluster` with WORKER_METRICS_PORT serves its directory's sum on that port
  (any path, e.g. /metrics) from its main process, which outlives the task processes it
  forks and recycles. WORKER_METRICS_PORT without PROMETHEUS_MULTIPROC_DIR is refused: the
  main process runs no task, so it would serve nothing useful.

`store_orders{state}` and the providers' circuits (`store_provider_circuit_*`) come from the
database at scrape time (web only: a worker's port would duplicate them), through collectors
that settings.METRICS_SCRAPE_COLLECTORS names by their dotted paths (store imports no app). When METRICS_TOKEN is set, both endpoints want
`Authorization: Bearer <METRICS_TOKEN>` and answer 401 otherwise.
"""
import hmac
import logging
import os
import sys
import threading
from pathlib import Path

import prometheus_client
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CollectorRegistry, multiprocess

logger = logging.getLogger("store.metrics")


def multiprocess_dir() -> str:
    """The multiprocess directory of this process group, or '' (single-process mode)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def multiprocess_dir_reset(path: str) -> None:
    """Create `path`, or empty it of a previous run's files. Only before the group's processes start."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)


def scrape_registry(*, with_collectors: bool = True) -> CollectorRegistry:
    """What a scrape shows: this process's metrics or the multiprocess sum, and the collectors
    that settings.METRICS_SCRAPE_COLLECTORS names (store_orders, the circuits), which read the database."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(prometheus_client.REGISTRY)
    if with_collectors:
        for path in settings.METRICS_SCRAPE_COLLECTORS:
            registry.register(import_string(path))
    return registry


def bearer_token_ok(authorization: str | None) -> bool:
    """True when no METRICS_TOKEN is configured, or the header carries it."""
    token = settings.METRICS_TOKEN
    if not token:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """/metrics of the web process (django-prometheus' HTTP, database and cache metrics, the store's)."""
    if not bearer_token_ok(request.headers.get("Authorization")):
        response = HttpResponse("401 Unauthorized: send Authorization: Bearer <METRICS_TOKEN>\n", status=401,
                                content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    output = prometheus_client.generate_latest(scrape_registry())
    return HttpResponse(output, content_type=prometheus_client.CONTENT_TYPE_LATEST)


def _token_guard(app):
    def guarded(environ, start_response):
        if not bearer_token_ok(environ.get("HTTP_AUTHORIZATION")):
            start_response("401 Unauthorized", [("Content-Type", "text/plain"),
                                                 ("WWW-Authenticate", 'Bearer realm="metrics"')])
            return [b"401 Unauthorized: send Authorization: Bearer <METRICS_TOKEN>\n"]
        return app(environ, start_response)

    return guarded


def worker_metrics_start(port: int, address: str):
    """Serve this cluster's multiprocess metrics on `address:port` from a daemon thread."""
    from wsgiref.simple_server import make_server

    from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler

    path = multiprocess_dir()
    if not path:
        raise ImproperlyConfigured(
            "WORKER_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR: the cluster's tasks run in forked "
            "processes, whose metrics only reach the port through prometheus_client's multiprocess files."
        )
    multiprocess_dir_reset(path)
    app = _token_guard(prometheus_client.make_wsgi_app(scrape_registry(with_collectors=False)))
    server = make_server(address, port, app, ThreadingWSGIServer, handler_class=_SilentHandler)
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    logger.info("worker metrics on http://%s:%s/metrics (from %s)", address, port, path)
    return server


def is_qcluster_command(argv: list[str] | None = None) -> bool:
    """This process is `manage.py qcluster` (or `django-admin qcluster`)."""
    argv = sys.argv if argv is None else argv
    return len(argv) > 1 and argv[1] == "qcluster"
