"""Numbers read from the environment: a bad value stops startup with a message naming it."""
import os
import secrets
import subprocess
import sys

import pytest

from tests.conftest import BASE_DIR


def check(tmp_path, **extra) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "DATA_DIR": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "store.settings", "SECRET_KEY": secrets.token_urlsafe(50), **extra}
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("name", "value", "says"), [
    ("PAYMENT_LINK_MAX_AGE_HOURS", "abc", "is not a whole number"),
    ("PAYMENT_LINK_MAX_AGE_HOURS", "-1", "is below its least sensible value, 1"),
    ("PAYMENT_LINK_MAX_AGE_HOURS", "0", "is below its least sensible value, 1"),
    ("PRODUCT_IMAGE_MAX_BYTES", "0", "is below its least sensible value, 1"),
    ("PRODUCT_IMAGE_MAX_BYTES", "2MB", "is not a whole number"),
    ("PRODUCT_IMAGE_MAX_SIDE", "0", "is below its least sensible value, 1"),
    ("STORE_ATTENTION_STUCK_MINUTES", "1.5", "is not a whole number"),
    ("STORE_ATTENTION_STUCK_MINUTES", "0", "is below its least sensible value, 1"),
    ("STORE_LOW_STOCK_THRESHOLD", "-3", "is below its least sensible value, 0"),
    ("EMAIL_TIMEOUT", "soon", "is not a whole number"),
    ("SIM_PAYMENT_APPROVE_RATE", "nan", "is not a number"),
])
def test_a_bad_number_stops_startup_naming_the_setting(tmp_path, name, value, says):
    result = check(tmp_path, **{name: value})

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "ImproperlyConfigured" in output
    assert f"{name}={value!r} {says}" in output


def test_good_numbers_and_empty_values_start(tmp_path):
    result = check(tmp_path, PAYMENT_LINK_MAX_AGE_HOURS=" 24 ", PRODUCT_IMAGE_MAX_BYTES="1048576",
                   STORE_ATTENTION_STUCK_MINUTES="", STORE_LOW_STOCK_THRESHOLD="0", REDIS_TIMEOUT="0.25")

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("media_url", "served_at", "img_src"), [
    ("/media/", "/media/products/a.png", "'self' data:"),
    ("media/", "/media/products/a.png", "'self' data:"),  # Django reads a relative MEDIA_URL from the root
    ("https://cdn.example.com/media/", None, "'self' data: https://cdn.example.com"),
    ("//cdn.example.com/media/", None, "'self' data: cdn.example.com"),
])
def test_the_app_serves_uploads_at_a_path_media_url_and_leaves_a_cdns_alone(tmp_path, media_url, served_at,
                                                                              img_src):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "DATA_DIR": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "store.settings", "SECRET_KEY": secrets.token_urlsafe(50), "MEDIA_URL": media_url}
    code = ("import django; django.setup()\n"
            "from django.urls import NoReverseMatch, reverse\n"
            "try: print(reverse('media', args=['products/a.png']))\n"
            "except NoReverseMatch: print(None)\n"
            "from django.conf import settings\n"
            "print(' '.join(settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src']))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                            timeout=120)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(served_at), img_src]
