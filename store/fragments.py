"""Rendered fragments, whole pages and serialized data that requests share, in the `fragments` cache.

A key is made of what the value was computed from, never invalidated by hand: the rows it
shows (`rows_digest` of the model instances the request just read, so a price or stock change,
however written, makes a new key on every process at once), the code that rendered it
(`code_digest`: templates, Python sources, the static files' manifest, the framework versions)
and the settings it shows. Nothing is written when a product changes; unused entries expire.

The per-request parts (the CSRF token, the page's own path) are not cached: a fragment is
rendered once with a mark made at random for that render in their place and kept as the text
between the marks, so each request joins its own values in at those positions; no product text
can hold a mark that did not exist when it was written.

Only what a bounded set of keys names is kept: a page whose view's arguments are not among a
known few (a search's words) is rendered around the shared fragments, and a fragment whose rows
the visitor chooses freely (a search's results) is rendered for its request.

The cache is a helper, never a dependency: when it fails, or FRAGMENT_CACHE_SECONDS is 0, the
page is rendered as usual.
"""
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import django
import rest_framework
from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import caches
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template import engines
from django.template.loader import get_template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

logger = logging.getLogger(__name__)

CACHE_ALIAS = "fragments"
# Folders whose files shape what is cached: the project's code and templates (not tests, tools
# or collected output).
_SKIPPED_DIRS = {".venv", "venv", "tests", "bench", "docs", "staticfiles", "data", "media", "node_modules",
                 "__pycache__", ".git", "scripts", "migrations", "htmlcov", "test-results"}
_CODE_SUFFIXES = {".py", ".html", ".txt"}


def _code_digest() -> str:
    digest = hashlib.sha256(f"{django.__version__} {rest_framework.__version__}".encode())
    base = Path(settings.BASE_DIR)
    for root, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(files):
            # Not an editor's lock or backup file (a dangling link while a file is being edited).
            if Path(name).suffix in _CODE_SUFFIXES and not name.startswith((".", "#")):
                path = Path(root, name)
                try:
                    content = path.read_bytes()
                except OSError:  # unreadable: no part of the code that runs
                    continue
                digest.update(str(path.relative_to(base)).encode())
                digest.update(content)
    # Hashed static URLs (ManifestStaticFilesStorage) change with every collectstatic.
    manifest = Path(settings.STATIC_ROOT or "", "staticfiles.json")
    if settings.STATIC_ROOT and manifest.is_file():
        digest.update(manifest.read_bytes())
    return digest.hexdigest()[:16]


_code: list[str] = []


def code_digest() -> str:
    """What the code that renders fragments is, computed once per process (StoreConfig.ready)."""
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


# Settings that change what a fragment shows (read per call: tests and operators change them).
_SHOWN_SETTINGS = ("STORE_LOW_STOCK_THRESHOLD", "STATIC_URL", "MEDIA_URL", "STORAGES", "LANGUAGE_CODE", "TIME_ZONE",
                   "DEBUG")


def _sharing() -> bool:
    return settings.FRAGMENT_CACHE_SECONDS > 0


def shared_data(*, name: str, digest: str, compute: Callable[[], Any]) -> Any:
    """`compute()`'s value (picklable) for the data `digest` names, from the cache when there."""
    if not _sharing():
        return compute()
    shown = hashlib.sha256(repr([getattr(settings, setting) for setting in _SHOWN_SETTINGS]).encode()).hexdigest()
    key = f"{name}:{code_digest()}:{shown[:12]}:{digest}"
    value = _cache_get(key)
    if value is None:
        value = compute()
        _cache_set(key, value)
    return value


# The per-request values a shared fragment or page takes: the context variable its templates
# read, and what this request puts there (escaped as the template would).
_REQUEST_VALUES: dict[str, Callable[[HttpRequest], str]] = {
    "csrf_token": lambda request: conditional_escape(get_token(request)),
    "next_path": lambda request: conditional_escape(request.get_full_path()),
    "login_next": lambda request: conditional_escape(quote(request.get_full_path(), safe="/")),
}
_NAMES = tuple(_REQUEST_VALUES)


@dataclass(frozen=True)
class Fragment:
    """A part of a page shared by every request whose `digest` (of everything else
    `template_name` reads from `context`) is the same; with no digest, rendered for its request."""

    template_name: str
    context: dict | Callable[[], dict]  # or what makes it, called only when the fragment is rendered
    digest: str | None


def _context(context: dict | Callable[[], dict]) -> dict:
    return context() if callable(context) else context


def _split(html: str, mark: str) -> tuple[str | int, ...]:
    """`html` as (text, variable index, text, ..., text): where each mark of `mark` was."""
    pieces = re.split(f"{mark}([0-9]+)x", html)
    return tuple(piece if position % 2 == 0 else int(piece) for position, piece in enumerate(pieces))


def _marks() -> tuple[str, dict[str, str]]:
    mark = secrets.token_hex(16)
    return mark, {name: f"{mark}{index}x" for index, name in enumerate(_NAMES)}


def _render_with(fragment: Fragment, marks: dict[str, str]) -> SafeString:
    """The fragment rendered with a plain context (no context processors, no request)."""
    return mark_safe(get_template(fragment.template_name).render({**_context(fragment.context), **marks}))  # noqa: S308


def _join(request: HttpRequest, parts: tuple[str | int, ...]) -> str:
    values = [_REQUEST_VALUES[name](request) for name in _NAMES]
    return "".join(part if isinstance(part, str) else values[part] for part in parts)


def shared_fragment(request: HttpRequest, fragment: Fragment) -> SafeString:
    """The fragment with this request's `csrf_token` and `next_path`, the rest from the cache."""

    def render() -> tuple[str | int, ...]:
        mark, marks = _marks()
        return _split(_render_with(fragment, marks), mark)

    if fragment.digest is None:
        return mark_safe(_join(request, render()))  # noqa: S308
    parts = shared_data(name=f"fragment:{fragment.template_name}", digest=fragment.digest, compute=render)
    return mark_safe(_join(request, parts))  # noqa: S308


def is_bare_visitor(request: HttpRequest) -> bool:
    """No session and no pending messages: signed out, an empty cart, nothing to tell, so every
    such visitor sees the same page but for the CSRF token and the page's path."""
    return settings.SESSION_COOKIE_NAME not in request.COOKIES and CookieStorage.cookie_name not in request.COOKIES


def shared_render(request: HttpRequest, template_name: str, context: dict | Callable[[], dict], *,
                  digest: str | None, fragments: dict[str, Fragment]) -> HttpResponse:
    """`template_name` as render() would answer, with `fragments` (context variables) shared;
    `context` may be a function that makes it, called only when the page is rendered.

    A bare visitor (is_bare_visitor) gets the whole page from the cache, keyed by `digest`
    (everything the page shows outside the fragments, e.g. the view's arguments, of which there
    must be few) and the fragments' digests; anyone else, or any page whose `digest` is None, is
    rendered around the shared fragments."""
    whole = digest is not None and _sharing() and all(f.digest is not None for f in fragments.values())
    if not whole or not is_bare_visitor(request):
        shared = {name: shared_fragment(request, fragment) for name, fragment in fragments.items()}
        return render(request, template_name, {**_context(context), **shared})

    def render_page() -> tuple[str | int, ...]:
        mark, marks = _marks()
        # What RequestContext would hold (a bare visitor's: signed out, no cart, no messages), with
        # the per-request values marked instead.
        page_context = {}
        for processor in engines["django"].engine.template_context_processors:
            page_context.update(processor(request))
        page_context.update(_context(context))
        page_context.update({name: _render_with(fragment, marks) for name, fragment in fragments.items()})
        page_context.update(marks)
        return _split(get_template(template_name).render(page_context), mark)

    digests = "|".join([digest, *(f"{name}={fragment.digest}" for name, fragment in sorted(fragments.items()))])
    parts = shared_data(name=f"page:{template_name}", digest=hashlib.sha256(digests.encode()).hexdigest(),
                        compute=render_page)
    return HttpResponse(_join(request, parts))
