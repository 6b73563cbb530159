"""The alert rules the compose stack's Prometheus loads (observability/alerts.yml): they parse,
Prometheus is told to load them, and every expression names metrics the store exports."""
import re
import shutil
import subprocess

import pytest
import yaml

import workflows.metrics  # noqa: F401 - registers the pipeline's metrics, as a worker does
from store.metrics import scrape_registry
from tests.conftest import BASE_DIR

pytestmark = pytest.mark.django_db

ALERTS = BASE_DIR / "observability" / "alerts.yml"
PROMETHEUS_OWN = {"up"}  # what Prometheus records about each scrape itself
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "rate", "irate", "increase", "absent", "max_over_time", "min_over_time",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
    "histogram_quantile",
}
# A counter's series end in _total and a histogram's in _bucket, _sum, _count; the bare name selects nothing.
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


def rules() -> list[dict]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    """The series names an expression selects: its identifiers less PromQL's words, label
    matchers ({…}), grouping label lists (by (…)), ranges ([…]) and strings."""
    expr = re.sub(r'"[^"]*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\b[0-9][0-9.e]*[a-z]*\b", "", expr)  # numbers and durations (1e3, 5m)
    return {word for word in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr) if word not in PROMQL_WORDS}


def jobs(expr: str) -> set[str]:
    return set(re.findall(r'job="([^"]*)"', expr))


def exported() -> set[str]:
    names = set()
    for family in scrape_registry().collect():
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def test_every_rule_parses_and_names_what_the_store_exports(customer, place_order):
    place_order(customer)
    store_metrics = exported()
    found = rules()

    scraped = {job["job_name"] for job in yaml.safe_load((BASE_DIR / "observability" / "prometheus.yml")
                                                      .read_text())["scrape_configs"]}
    assert {rule["alert"] for rule in found} >= {"OrderStuckInWorkingState", "StepTimeoutRatioHigh",
                                                 "NoWorkerReporting", "ProviderCircuitOpen"}
    for rule in found:
        assert set(rule) >= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        names = metric_names(rule["expr"])
        assert names, f"{rule['alert']} selects no metric"
        unknown = names - store_metrics - PROMETHEUS_OWN
        assert not unknown, f"{rule['alert']} names metrics the store does not export: {sorted(unknown)}"
        assert jobs(rule["expr"]) <= scraped, f"{rule['alert']} names a job prometheus.yml does not scrape"
    if shutil.which("promtool"):
        checked = subprocess.run(["promtool", "check", "rules", str(ALERTS)], capture_output=True, text=True,
                                 timeout=60)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_name_check_catches_a_misspelt_metric():
    assert metric_names('max by (state) (store_order_state_oldst_seconds{group="working"}) > 600') == {
        "store_order_state_oldst_seconds"}
    assert metric_names('sum(up{job="store-worker"}) == 0 or absent(up{job="store-worker"})') == {"up"}
    assert metric_names("max_over_time(store_orders[5m] offset 1h) > 1e3") == {"store_orders"}
    # A counter's bare name selects nothing: only its _total series is exported.
    assert "store_step_attempts" not in exported() and "store_step_attempts_total" in exported()


def test_prometheus_loads_the_rules_the_compose_stack_mounts():
    prometheus = yaml.safe_load((BASE_DIR / "observability" / "prometheus.yml").read_text())
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())

    mounts = compose["services"]["prometheus"]["volumes"]
    assert "./observability/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts
    assert prometheus["rule_files"] == ["/etc/prometheus/alerts.yml"]
