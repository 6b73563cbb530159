"""Production settings and the docker-compose stack, checked by reading and running what can run here."""
import json
import os
import re
import secrets
import subprocess
import sys

import pytest
import yaml

from tests.conftest import BASE_DIR

MARKER = "<!-- production-environment -->"


def documented_environment(path) -> dict[str, str]:
    """The NAME=value lines of the first code block after the marker in `path`."""
    text = (BASE_DIR / path).read_text()
    assert MARKER in text, f"{path} lost its documented production environment"
    block = re.search(r"```[a-z]*\n(.*?)```", text.split(MARKER, 1)[1], re.S).group(1)
    env = {}
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, value = line.partition("=")
            env[name.strip()] = value.strip()
    return env


def fill_placeholders(env: dict[str, str]) -> dict[str, str]:
    filled = {}
    for name, value in env.items():
        if name == "SECRET_KEY":
            value = secrets.token_urlsafe(50)
        filled[name] = re.sub(r"<[^>]*>", "placeholder", value)
    return filled


@pytest.mark.parametrize("path", ["README.md", "docs/operations.md"])
def test_check_deploy_is_silent_with_the_documented_production_environment(path, tmp_path):
    documented = documented_environment(path)
    for name in ("SECRET_KEY", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT", "USE_X_FORWARDED_PROTO", "SECURE_HSTS_SECONDS",
                 "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "DATABASE_URL", "REDIS_URL"):
        assert name in documented, f"{path}: {name} is not in the documented production environment"
    assert "DEBUG" not in documented or documented["DEBUG"] in ("0", "false", "off", "no")

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "store.settings",
        "DATA_DIR": str(tmp_path),
        **fill_placeholders(documented),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # One check is silenced in the settings, with its reason (axes.W006).
    assert "System check identified no issues (1 silenced)." in output
    assert "WARNING" not in output


def test_check_deploy_warns_without_the_production_environment(tmp_path):
    """The check above is not vacuous: the development defaults do draw warnings."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "DATA_DIR": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "store.settings", "SECRET_KEY": secrets.token_urlsafe(50)}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert "security.W004" in result.stderr + result.stdout  # no HSTS
    assert "security.W008" in result.stderr + result.stdout  # no SSL redirect


# --- docker-compose.yml and observability/ (Docker does not run here: read them) ----------------

def compose() -> dict:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def test_compose_runs_the_stack_the_readme_describes():
    services = compose()["services"]
    assert {"db", "redis", "release", "web", "worker", "nginx", "prometheus", "grafana"} <= services.keys()

    web, worker = services["web"], services["worker"]
    # Scalable: no fixed host port or container name on web and worker.
    for service in (web, worker):
        assert "ports" not in service and "container_name" not in service
        assert service["depends_on"]["release"]["condition"] == "service_completed_successfully"
        assert service["environment"]["PROMETHEUS_MULTIPROC_DIR"]
        assert service["environment"]["DATABASE_URL"].startswith("postgres://")
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert web["environment"]["PROMETHEUS_MULTIPROC_DIR"] != worker["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    assert worker["command"] == ["python", "manage.py", "qcluster"]
    assert worker["environment"]["WORKER_METRICS_ADDRESS"] == "0.0.0.0"
    assert web["environment"]["TRUSTED_PROXY_COUNT"] == "1"
    assert "gunicorn store.wsgi --bind 0.0.0.0:8080" in " ".join(web["command"])

    # The environment variables the compose file gives the store are ones the settings read.
    settings_source = (BASE_DIR / "store" / "settings.py").read_text()
    for name in web["environment"].keys() | worker["environment"].keys():
        if name in ("PROMETHEUS_MULTIPROC_DIR", "WEB_CONCURRENCY"):
            continue  # read by prometheus_client and by the command line
        assert f'"{name}"' in settings_source, name


def test_prometheus_scrapes_every_web_and_worker_container():
    config = yaml.safe_load((BASE_DIR / "observability" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    services = compose()["services"]
    worker_port = int(services["worker"]["environment"]["WORKER_METRICS_PORT"])

    for job, service, port in (("store-web", "web", 8080), ("store-worker", "worker", worker_port)):
        (discovery,) = jobs[job]["dns_sd_configs"]
        assert discovery["names"] == [service] and discovery["type"] == "A" and discovery["port"] == port
        assert jobs[job]["metrics_path"] == "/metrics"
        assert jobs[job]["authorization"]["credentials_file"] == "/prometheus/metrics-token"
    assert "/prometheus/metrics-token" in " ".join(services["prometheus"]["entrypoint"])
    assert str(8080) in services["web"]["expose"] and str(worker_port) in services["worker"]["expose"]


def test_grafana_is_provisioned_with_the_datasource_the_dashboard_uses():
    root = BASE_DIR / "observability" / "grafana"
    provisioning = root / "provisioning"
    (datasource,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "store.yml").read_text())["providers"]
    dashboard = json.loads((root / "dashboards" / "store.json").read_text())
    grafana = compose()["services"]["grafana"]

    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    assert f"./observability/grafana/dashboards:{provider['options']['path']}:ro" in grafana["volumes"]
    assert "./observability/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]

    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys()
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == datasource["uid"]
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
    titles = " ".join(panel["title"].lower() for panel in dashboard["panels"])
    for topic in ("order rate", "orders by state", "p95", "step success", "http requests", "http latency"):
        assert topic in titles, topic
