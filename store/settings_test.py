"""Settings for the test suite: the same settings, with instant simulators and fast hashing."""
import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("SIM_LATENCY_SCALE", "0")
os.environ.setdefault("PIPELINE_BACKOFF_SCALE", "0")
os.environ.setdefault("STATIC_MANIFEST", "0")
os.environ.setdefault("Q_LOG_LEVEL", "ERROR")

from store.settings import *  # noqa: E402,F403

# Fast password hashing: the suite creates many users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
