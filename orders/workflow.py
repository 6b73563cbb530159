"""What the order domain reads of the pipeline's policy (workflows.policy), which sits a layer
above and registers it here as it starts (`workflow_register`).

- `workflow_version_current()`: the number of the current workflow version, which each order
  records as it is placed (Order.workflow_version's default: it goes into the order's INSERT);
- `payment_wait_policy(order)`: how the order waits for its payment's confirmation:
  (confirmation timeout seconds: the order's version; ask the provider after seconds and every
  minutes: the current version's reconciliation);
- `tracking_lookup_timeout(order)`: seconds one ask of the carrier about the order's parcel may
  take (the order's version);
- `address_check_timeout(order)`: seconds one ask of the carrier whether it delivers to an
  address may take (the order's version's address step).
"""
from collections.abc import Callable
from typing import Any

FIRST_VERSION = 1

_registered: dict[str, Callable] = {}


def workflow_register(*, current: Callable[[], int], payment_wait: Callable[[Any], tuple[int, int, int]],
                      tracking_lookup: Callable[[Any], float], address_check: Callable[[Any], float]) -> None:
    _registered.update(current=current, payment_wait=payment_wait, tracking_lookup=tracking_lookup,
                       address_check=address_check)


def workflow_version_current() -> int:
    """The current workflow version's number (1 until the pipeline registers)."""
    current = _registered.get("current")
    return current() if current else FIRST_VERSION


def payment_wait_policy(order) -> tuple[int, int, int]:
    """(confirmation timeout s, reconcile after s, reconcile every min) for `order`."""
    return _registered["payment_wait"](order)


def tracking_lookup_timeout(order) -> float:
    """Seconds one ask of the carrier about `order`'s parcel may take."""
    return _registered["tracking_lookup"](order)


def address_check_timeout(order) -> float:
    """Seconds one ask of the carrier whether it delivers to `order`'s (new) address may take."""
    return _registered["address_check"](order)
