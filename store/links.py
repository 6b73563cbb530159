"""Absolute links the store sends out (e-mails): its public address plus a path.

The one place that decides which address customers open: settings.STORE_PUBLIC_URL, without
a trailing slash (store.settings; STORE_URL is where the store's own processes reach it).
Every e-mailed link is built here.
"""
from django.conf import settings


def public_url(path: str) -> str:
    """`path` (absolute, starting with "/") on the store's public address:
    public_url("/accounts/password/reset/…/") → "http://127.0.0.1:8080/accounts/password/reset/…/"."""
    return settings.STORE_PUBLIC_URL + path
