"""Settings for the test suite: the same settings, with instant simulators and fast hashing."""
import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("SIM_LATENCY_SCALE", "0")
os.environ.setdefault("PIPELINE_BACKOFF_SCALE", "0")
os.environ.setdefault("STATIC_MANIFEST", "0")
os.environ.setdefault("Q_LOG_LEVEL", "ERROR")
# Tests' webhook receivers listen on loopback.
os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE", "1")
# The payment simulator never calls back unless a test asks it to (a pending order then waits).
os.environ.setdefault("SIM_PAYMENT_CONFIRM_DELAY", "-1")
# Nor does the carrier (the pipeline asks it at once, and every tracking update has happened).
os.environ.setdefault("SIM_TRACKING_CALLBACKS", "0")
os.environ.setdefault("SIM_TRACKING_STEP_SECONDS", "0")
os.environ.setdefault("TRACKING_WAIT_SCALE", "0")
# Staff's second factor is off unless a test turns it on (tests/accounts/test_second_factor.py).
os.environ.setdefault("STAFF_REQUIRE_2FA", "0")
# Rate limits far out of reach, so no test trips another's; tests/ops sets the real ones.
for _name in ("API", "API_BURST", "LOGIN", "REGISTER", "LOGIN_FAILURES", "PASSWORD_RESET"):
    os.environ.setdefault(f"RATE_LIMIT_{_name}", "100000/min")

from store.settings import *  # noqa: E402,F403

# Fast password hashing: the suite creates many users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Unit tests run pipeline tasks in-process through django-q2's sync mode; the `qcluster`
# fixture turns this off so tasks go through the broker to a real cluster.
PIPELINE_TASKS_SYNC = env_bool("PIPELINE_TASKS_SYNC", True)  # noqa: F405 - a test's web process may queue

# Deterministic simulators: a fixed seed, and the warehouse and carrier always succeed unless
# a test asks for the seed's rates (tests/workflows/test_rates.py) or a trigger (ZIP 00000).
SIMULATOR = {**SIMULATOR, "SEED": os.environ.get("SIM_SEED", "workflow-store-tests")}  # noqa: F405
SIMULATOR["INVENTORY_AVAILABLE_RATE"] = float(os.environ.get("SIM_INVENTORY_AVAILABLE_RATE", "1"))
SIMULATOR["SHIPPING_SUCCESS_RATE"] = float(os.environ.get("SIM_SHIPPING_SUCCESS_RATE", "1"))

# Every test reads the current workflow version and the circuits afresh (a process-wide cache
# would carry one test's state into the next).
PROVIDER_CIRCUIT = {**PROVIDER_CIRCUIT, "READ_CACHE_SECONDS": 0}  # noqa: F405
WORKFLOW_READ_CACHE_SECONDS = 0

# Standard shipping is free on every order, so the totals of tests about something else are their
# items' sum; the shipping tests set the threshold they need.
FREE_SHIPPING_THRESHOLD = "0.00"

# pytest-xdist (`make test` runs two workers): pytest-django gives each worker a test database
# of its own; the caches and the queue name follow, so one worker's rate-limit counters, cluster
# statuses and tasks never reach the other (nor the processes each starts, which inherit
# PYTEST_XDIST_WORKER).
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST_WORKER:
    for _cache in CACHES.values():  # noqa: F405
        if "Redis" in _cache["BACKEND"]:
            _cache["KEY_PREFIX"] = f"{_cache['KEY_PREFIX']}-{_XDIST_WORKER}"
        else:
            _cache["LOCATION"] = f"{_cache['LOCATION']}-{_XDIST_WORKER}"
    if not os.environ.get("Q_CLUSTER_NAME"):
        Q_CLUSTER["name"] = f"{Q_CLUSTER['name']}-{_XDIST_WORKER}"  # noqa: F405

# The session's qcluster forgets cached content types before each task (tests/worker/apps.py).
INSTALLED_APPS = [*INSTALLED_APPS, "tests.worker.apps.TestWorkerConfig"]  # noqa: F405
