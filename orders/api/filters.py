"""The query string of GET /api/orders: its filters parsed and checked, anything else refused.

Every parameter is named in `PARAMETERS`; a request with any other is a 400 naming it
(store.api.query). Bad values, and empty ones
(store.api.query), are 400s naming the parameter, in the API's error shape; nothing is read
before the query is sound.
"""
import re
from dataclasses import dataclass
from datetime import date

from django.http import QueryDict

from orders.selectors import FIRST_DAY, LAST_DAY
from orders.states import OrderState
from store.api.query import empty_value_message, refuse_unknown_parameters
from store.errors import ValidationFailed
from store.numbers import MAX_ID

# Filters, then HeaderPagination's own parameters (it checks their values).
PARAMETERS = ("customer", "state", "createdFrom", "createdTo", "page", "pageSize")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


@dataclass(frozen=True)
class OrderListQuery:
    """What orders.selectors.order_list takes: states (any of them), the customer (an id or a
    lower-cased e-mail), and the first and last day of placement (inclusive)."""

    states: tuple[str, ...] = ()
    customer: int | str | None = None
    created_from: date | None = None
    created_to: date | None = None


def _refuse(name: str, message: str, *, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(message, code=code, fields={name: message})


def _one(params: QueryDict, name: str) -> str | None:
    """The parameter's one value, stripped; None when it is not given."""
    values = params.getlist(name)
    if len(values) > 1:
        raise _refuse(name, f"{name} is given {len(values)} times: give it once.")
    if values and not values[0].strip():
        raise _refuse(name, empty_value_message(name))
    return values[0].strip() if values else None


def _states(params: QueryDict) -> tuple[str, ...]:
    values = [[state.strip() for state in value.split(",") if state.strip()] for value in params.getlist("state")]
    if [] in values:  # `state=` or `state=,` names no state (a stray comma after one is harmless)
        raise _refuse("state", empty_value_message("state"))
    given = [state for states in values for state in states]
    unknown = [state for state in given if state not in OrderState.values]
    if unknown:
        raise _refuse("state", f"Unknown state {', '.join(repr(s) for s in unknown)}: "
                               f"state is one or more of {', '.join(OrderState.values)}.")
    return tuple(dict.fromkeys(given))


def _customer(params: QueryDict) -> int | str | None:
    value = _one(params, "customer")
    if value is None:
        return None
    if value.isascii() and value.isdigit():
        if int(value) > MAX_ID:
            raise _refuse("customer", "customer is not a user id this shop could have.")
        return int(value)
    # Printable only: no space, and no control character (PostgreSQL refuses a NUL in a query).
    if "@" in value and value.isprintable() and not any(char.isspace() for char in value):
        return value.lower()
    raise _refuse("customer", "customer is a customer's e-mail address or their user id (ASCII digits).")


def _day(params: QueryDict, name: str) -> date | None:
    value = _one(params, name)
    if value is None:
        return None
    try:
        if not ISO_DATE.fullmatch(value):
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise _refuse(name, f"{name} is a date as YYYY-MM-DD (e.g. 2026-12-05), not {value[:40]!r}.") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise _refuse(name, f"{name} is a day from {FIRST_DAY} to {LAST_DAY}, not {value}.")
    return day


def order_list_query(params: QueryDict) -> OrderListQuery:
    """Parse GET /api/orders' query string; ValidationFailed (400) for an unknown parameter
    (code "unknown_parameter"), an empty value, an unknown state, a customer that is neither an
    e-mail nor an id, a day that is not YYYY-MM-DD, or createdFrom after createdTo."""
    refuse_unknown_parameters(params, PARAMETERS, endpoint="GET /api/orders")
    query = OrderListQuery(states=_states(params), customer=_customer(params),
                           created_from=_day(params, "createdFrom"), created_to=_day(params, "createdTo"))
    if query.created_from and query.created_to and query.created_from > query.created_to:
        raise _refuse("createdFrom", f"createdFrom ({query.created_from}) is after createdTo ({query.created_to}).")
    return query
