"""What placing an order and refunding share: a request keyed by `Idempotency-Key`.

A keyed request stores the fingerprint of what it asked for. A replay with the same key and
the same fingerprint gets the first result back; the same key with another request is a
mistake the client must hear about (Unprocessable, 422 `idempotency_key_reused`).
"""
import hashlib
import json

from store.errors import Unprocessable


def request_fingerprint(request: dict) -> str:
    """A digest of `request` (JSON-serialisable; key order does not matter)."""
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def replay_of(first, fingerprint: str, *, what: str):
    """`first` (a model with `request_fingerprint`, or None) when `fingerprint` is its request's."""
    if first is not None and first.request_fingerprint != fingerprint:
        raise Unprocessable(f"This Idempotency-Key was already used with a different {what}.",
                            code="idempotency_key_reused")
    return first
