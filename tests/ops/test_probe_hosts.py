"""Probes and /metrics answer whatever Host the orchestrator or Prometheus uses (a pod's or a
container's IP address), without an ERROR line; every other path still checks ALLOWED_HOSTS."""
import logging

import pytest

from store.middleware import ProbeMiddleware

POD_ADDRESS = "10.42.7.19:8080"


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/healthz", "/metrics"])
def test_a_probe_by_ip_address_is_answered_without_an_error_line(client, transactional_db, settings, caplog, path):
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    settings.METRICS_TOKEN = "scrape"
    with caplog.at_level(logging.INFO):
        response = client.get(path, HTTP_HOST=POD_ADDRESS, HTTP_AUTHORIZATION="Bearer scrape")

    assert response.status_code in (200, 503), response.content  # /healthz: no worker runs here
    if path != "/healthz":
        assert response.status_code == 200, response.content
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert not [record for record in caplog.records if "Invalid HTTP_HOST" in record.getMessage()]


def test_metrics_by_ip_address_still_wants_the_token(client, transactional_db, settings):
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    settings.METRICS_TOKEN = "scrape"
    assert client.get("/metrics", HTTP_HOST=POD_ADDRESS).status_code == 401


@pytest.mark.parametrize("path", ["/", "/api/products", "/livez/", "/healthz?x=1"])
def test_other_paths_by_an_unknown_host_are_refused(client, transactional_db, settings, path):
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    response = client.get(path, HTTP_HOST=POD_ADDRESS)
    if path == "/healthz?x=1":  # the query string does not change the path: a probe still
        assert response.status_code in (200, 503)
    else:
        assert response.status_code == 400


def test_the_middleware_runs_before_the_host_is_validated(settings):
    middleware = settings.MIDDLEWARE
    assert middleware.index("store.middleware.ProbeMiddleware") < middleware.index(
        "django.middleware.common.CommonMiddleware")
    assert f"{ProbeMiddleware.__module__}.{ProbeMiddleware.__name__}" in middleware
