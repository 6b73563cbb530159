"""Rendered fragments and serialized data that requests share, in the `fragments` cache.

A key is made of what the value was computed from, never invalidated by hand: the rows it
shows (`rows_digest` of the model instances just read, so a price or stock change anywhere
makes a new key on every process at once) and the code that rendered it (`CODE_DIGEST`:
templates, Python sources, the static files' manifest, the framework versions). Nothing is
written when a product changes; stale entries just expire.

The per-request parts of a fragment (the CSRF token, the page's own path) are not cached: the
fragment is rendered once with a random mark in their place and kept as the text between them,
so each request joins its own values in at those positions. The mark is new at every render,
so no product text can hold it.

The cache is a helper, never a dependency: when it fails the fragment is rendered as usual.
"""
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import django
import rest_framework
from django.conf import settings
from django.core.cache import caches
from django.db.models import Model
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import get_template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

logger = logging.getLogger(__name__)

CACHE_ALIAS = "fragments"
# Folders whose files shape what is cached: the project's code and templates (not tests, tools
# or collected output).
_SKIPPED_DIRS = {".venv", "tests", "bench", "docs", "staticfiles", "data", "node_modules", "__pycache__", ".git",
                 "scripts", "migrations"}
_CODE_SUFFIXES = {".py", ".html", ".txt"}


def _code_digest() -> str:
    digest = hashlib.sha256(f"{django.__version__} {rest_framework.__version__} {settings.STATIC_URL} "
                            f"{settings.MEDIA_URL}".encode())
    base = Path(settings.BASE_DIR)
    for root, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(files):
            if Path(name).suffix in _CODE_SUFFIXES:
                path = Path(root, name)
                digest.update(str(path.relative_to(base)).encode())
                digest.update(path.read_bytes())
    # Hashed static URLs (ManifestStaticFilesStorage) change with every collectstatic.
    manifest = Path(settings.STATIC_ROOT or "", "staticfiles.json")
    if settings.STATIC_ROOT and manifest.is_file():
        digest.update(manifest.read_bytes())
    return digest.hexdigest()[:16]


_code: list[str] = []


def code_digest() -> str:
    """What the code that renders fragments is, computed once per process."""
    if not _code:
        _code.append(_code_digest())
    return _code[0]


def rows_digest(rows: Iterable[Model], *related: str) -> str:
    """A digest of every concrete field of `rows` and of each one's `related` objects
    (select_related, e.g. "category"), in order: any change of a value changes it."""
    digest = hashlib.sha256()
    for row in rows:
        for obj in (row, *(getattr(row, name) for name in related)):
            values = tuple(getattr(obj, field.attname) for field in obj._meta.concrete_fields)
            digest.update(repr((obj._meta.label, values)).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def _cache_get(key: str):
    try:
        return caches[CACHE_ALIAS].get(key)
    except Exception as error:  # noqa: BLE001 - any cache failure (Redis down, its breaker open, a bad file) renders
        logger.debug("fragment cache read failed (%s): rendering", type(error).__name__)
        return None


def _cache_set(key: str, value) -> None:
    try:
        caches[CACHE_ALIAS].set(key, value)
    except Exception as error:  # noqa: BLE001 - as in _cache_get
        logger.debug("fragment cache write failed (%s)", type(error).__name__)


def shared_data(*, name: str, digest: str, compute: Callable[[], Any]) -> Any:
    """`compute()`'s value (picklable) for the data `digest` names, from the cache when there."""
    key = f"{name}:{code_digest()}:{digest}"
    value = _cache_get(key)
    if value is None:
        value = compute()
        _cache_set(key, value)
    return value


# The per-request values a shared fragment takes: the context variable its template reads, and
# what this request puts there (escaped as the template would).
_REQUEST_VALUES: dict[str, Callable[[HttpRequest], str]] = {
    "csrf_token": lambda request: conditional_escape(get_token(request)),
    "next_path": lambda request: conditional_escape(request.get_full_path()),
}
_NAMES = tuple(_REQUEST_VALUES)


def _render_parts(template_name: str, context: dict) -> tuple[str, ...]:
    """The fragment as (text, variable index, text, variable index, ..., text)."""
    mark = secrets.token_hex(16)
    marks = {name: f"{mark}{index}x" for index, name in enumerate(_NAMES)}
    html = get_template(template_name).render({**context, **marks})
    pieces = re.split(f"{mark}([0-9]+)x", html)
    return tuple(piece if position % 2 == 0 else int(piece) for position, piece in enumerate(pieces))


def shared_fragment(request: HttpRequest, *, template_name: str, digest: str, context: dict) -> SafeString:
    """`template_name` rendered with `context` (plain: no context processors, no request) and
    this request's `csrf_token` and `next_path`; the rest is shared by every request whose
    `digest` (of everything else the template reads) is the same."""
    parts = shared_data(name=f"fragment:{template_name}", digest=digest,
                        compute=lambda: _render_parts(template_name, context))
    values = [_REQUEST_VALUES[name](request) for name in _NAMES]
    return mark_safe("".join(part if isinstance(part, str) else values[part] for part in parts))  # noqa: S308
