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


# Every document that shows a production environment (docs/operations.md, the one place for it).
DOCUMENTED = [path for path in ["README.md", *sorted(f"docs/{page.name}" for page in (BASE_DIR / "docs").glob("*.md"))]
              if MARKER in (BASE_DIR / path).read_text()]


def test_the_production_environment_is_documented():
    assert "docs/operations.md" in DOCUMENTED


@pytest.mark.parametrize("path", DOCUMENTED)
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
        if name in ("PROMETHEUS_MULTIPROC_DIR", "WEB_CONCURRENCY", "GUNICORN_THREADS"):
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


# --- what the compose file, the Dockerfile and the docs promise an operator ---------------------

def compose_default(value) -> str:
    """A compose value with each `${NAME:-default}` as its default (what runs when nothing is set)."""
    def default(match):
        assert match.group(2) is not None, f"{match.group(0)} has no default"
        return match.group(2)
    return re.sub(r"\$\{(\w+):-([^}]*)\}", default, str(value))


def documented_scale() -> dict[str, int]:
    """The `--scale service=N` of the command at the top of docker-compose.yml."""
    header = (BASE_DIR / "docker-compose.yml").read_text().split("\nname:", 1)[0]
    scale = {name: int(count) for name, count in re.findall(r"--scale (\w+)=(\d+)", header)}
    assert {"web", "worker"} <= scale.keys(), header
    return scale


def test_every_published_port_listens_on_loopback_unless_told_otherwise():
    services = compose()["services"]
    published = {name: service["ports"] for name, service in services.items() if "ports" in service}
    assert {"nginx", "grafana", "prometheus"} <= published.keys()
    for name, ports in published.items():
        for port in ports:
            address = compose_default(port).split(":")[0]
            assert address == "127.0.0.1", f"{name} publishes {port} beyond this machine"


def test_grafana_wants_a_password_and_no_anonymous_visitors():
    environment = compose()["services"]["grafana"]["environment"]
    assert environment["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert environment.get("GF_AUTH_ANONYMOUS_ENABLED", "false") == "false"


def test_volumes_are_named_and_the_image_makes_no_anonymous_one():
    config = compose()
    named = set(config["volumes"])
    for name, service in config["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert ":" in volume, f"{name}: {volume} is an anonymous volume"
            assert source in named or source.startswith("./observability/"), f"{name}: {volume}"
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    assert not re.search(r"^\s*VOLUME\b", dockerfile, re.M)


def test_the_workers_grace_period_is_what_the_docs_ask_for():
    asked = int(re.search(r"docker stop -t (\d+)", (BASE_DIR / "docs" / "operations.md").read_text()).group(1))
    assert asked >= 35
    grace = compose()["services"]["worker"]["stop_grace_period"]
    assert int(grace.rstrip("s")) >= asked


def test_postgresql_holds_the_connections_of_the_documented_scale():
    """At most one connection per gunicorn thread and per pipeline thread (plus each cluster's
    own four processes): the compose file's PostgreSQL must take them all at the scale its
    header runs, from the compose file's own numbers, and its header shows this computation."""
    services = compose()["services"]
    scale = documented_scale()
    web, worker = services["web"]["environment"], services["worker"]["environment"]
    web_each = int(compose_default(web["WEB_CONCURRENCY"])) * int(compose_default(web["GUNICORN_THREADS"]))
    worker_each = int(compose_default(worker["Q_WORKERS"])) * (
        int(compose_default(worker["PIPELINE_CONCURRENT_RUNS"])) + 1) + 4
    needed = scale["web"] * web_each + scale["worker"] * worker_each + 10 + 3

    command = " ".join(services["db"]["command"])
    max_connections = int(re.search(r"max_connections=(\d+)", compose_default(command)).group(1))
    assert max_connections >= needed, (max_connections, needed)
    header = (BASE_DIR / "docker-compose.yml").read_text().split("\nname:", 1)[0]
    assert f"= {needed}\n" in header and f"POSTGRES_MAX_CONNECTIONS, {max_connections})" in header


def test_every_environment_example_names_the_internal_and_the_public_address():
    env = compose()["x-store-env"]
    assert env["STORE_URL"] == "http://web:8080" and env["STORE_PUBLIC_URL"]
    documented = documented_environment("docs/operations.md")
    assert documented["STORE_URL"] and documented["STORE_PUBLIC_URL"].startswith("https://")

    # The Dockerfile header's commands: one volume, one network, the web's address for each.
    header = [line for line in (BASE_DIR / "Dockerfile").read_text().splitlines() if "docker run" in line]
    assert len(header) >= 3
    for line in header:
        assert "-v workflow-store-data:/data" in line and "--network workflow-store" in line, line
    for line in header:
        if "createsuperuser" not in line:
            assert "STORE_URL=http://store-web:8080" in line and "STORE_PUBLIC_URL=" in line, line
    assert any("--name store-web" in line for line in header)
    assert not any(re.search(r"-p \d+:", line) for line in header), "gunicorn published beyond loopback"


def test_the_documented_release_steps_collect_static_files_as_the_image_does():
    docs = (BASE_DIR / "docs" / "operations.md").read_text()
    assert "collectstatic --noinput" in (BASE_DIR / "Dockerfile").read_text()
    release = re.search(r"^\| release \| `([^|]*)` \|", docs, re.M).group(1)
    assert "migrate --noinput" in release and "collectstatic --noinput" in release and "store_bootstrap" in release
    assert "createsuperuser" in (BASE_DIR / "docker-compose.yml").read_text().split("\nname:", 1)[0]
