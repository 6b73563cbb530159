"""Reliability drills (`make drill`): crash, oversell, idempotency, fuzz, restart, broker-outage."""
