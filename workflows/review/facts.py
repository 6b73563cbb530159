"""The facts review rules test: each with a type, a range and the comparisons it allows.

A fact is about the order as placed (total, lines, categories, where it ships, the risk
score) or about its customer before it (account age, delivered orders, lifetime spend,
declined payments). Customer facts count only what came before the order: the orders placed
before it (in the state and with the refunds they have now) and the declines of the 30 days
before it. `facts_read` reads the facts a set of
rules needs for many orders in at most three queries.
"""
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Count, DecimalField, ExpressionWrapper, F, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from catalog.models import Category
from orders.models import Order, OrderEvent, OrderLine
from orders.states import DECLINE_TRANSITIONS, OrderState
from store.money import money
from workflows.review.places import state_code

NUMBER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in")
TEXT_OPS = ("eq", "ne", "in")
SET_OPS = ("in",)
OP_WORDS = {"eq": "is", "ne": "is not", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "in": "is one of"}

MAX_MONEY = Decimal("9999999999.99")  # Order.total: 12 digits, 2 of them decimals
MAX_LIST = 50  # values in one `in`
_INTEGER = re.compile(r"^[0-9]+\Z", re.ASCII)
_MONEY = re.compile(r"^[0-9]+(\.[0-9]{1,2})?\Z", re.ASCII)
_ZIP3 = re.compile(r"^[0-9]{3}\Z", re.ASCII)
_STATE = re.compile(r"^[A-Za-z][A-Za-z .'-]{0,99}\Z", re.ASCII)


class FactValueError(ValueError):
    """A value a fact cannot take; its message says what it can."""


def _integer(low: int, high: int, unit: str) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        text = value if isinstance(value, str) else (str(value) if isinstance(value, int) and not isinstance(value, bool) else None)
        # A string of digits longer than the range's is out of it (and int() of thousands is slow).
        if text is None or len(text) > len(str(high)) or not _INTEGER.match(text) or not low <= int(text) <= high:
            raise FactValueError(f"Enter a whole number of {unit} from {low} to {high:,}, in digits 0–9.")
        return int(text)
    return parse


def _money(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise FactValueError("Enter an amount in dollars, like 500 or 499.99.")
    text = value if isinstance(value, str) else str(value)
    if len(text) > len(f"{MAX_MONEY}") or not _MONEY.match(text):
        raise FactValueError("Enter an amount in dollars with at most two decimals, like 500 or 499.99, in digits "
                             "0–9; it cannot be negative.")
    try:
        amount = Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise FactValueError("Enter an amount in dollars, like 500 or 499.99.") from exc
    if amount > MAX_MONEY:
        raise FactValueError(f"Enter an amount of at most {money(MAX_MONEY)}.")
    return amount


def _zip3(value: Any) -> str:
    if not isinstance(value, str) or not _ZIP3.match(value):
        raise FactValueError('Enter the first three digits of a ZIP code, like "606", in digits 0–9.')
    return value


def _state(value: Any) -> str:
    code = state_code(value) if isinstance(value, str) and _STATE.match(value.strip()) else ""
    if not code:
        raise FactValueError('Enter a US state by its code or name, like "IL" or "Illinois".')
    return code


@dataclass(frozen=True)
class Fact:
    """A named fact: what staff read (`label`, `unit`), which comparisons it allows (`ops`), how a
    value is checked and made canonical (`parse`, raising FactValueError), how it reads (`show`)."""

    name: str
    label: str
    ops: tuple[str, ...]
    parse: Callable[[Any], Any]
    show: Callable[[Any], str] = str
    choices: Callable[[], Iterable[tuple[str, str]]] | None = None  # a value from a list (categories)

    def value(self, op: str, value: Any) -> Any:
        """`value` checked for comparison `op` and made canonical (JSON: money as a "0.00" string,
        counts as integers, a list for `in`). Raises FactValueError."""
        if op not in self.ops:
            allowed = ", ".join(OP_WORDS[name] for name in self.ops)
            raise FactValueError(f"{self.label} can only be compared with: {allowed}.")
        if op == "in":
            if not isinstance(value, list | tuple) or not value:
                raise FactValueError(f"Give a list of one or more values for “{OP_WORDS['in']}”.")
            if len(value) > MAX_LIST:
                raise FactValueError(f"Give at most {MAX_LIST} values.")
            return sorted({self._canonical(item) for item in value}, key=str)
        if isinstance(value, list | tuple):
            raise FactValueError("Give one value (a list is only for “is one of”).")
        return self._canonical(value)

    def _canonical(self, value: Any) -> Any:
        parsed = self.parse(value)
        return f"{parsed:.2f}" if isinstance(parsed, Decimal) else parsed

    def typed(self, canonical: Any) -> Any:
        """A canonical (stored) value as the fact's Python type, for comparing."""
        if isinstance(canonical, list):
            return [self.typed(item) for item in canonical]
        return Decimal(canonical) if self.parse is _money else canonical


def _category_choices() -> list[tuple[str, str]]:
    return list(Category.objects.order_by("name").values_list("slug", "name"))


def _category(value: Any) -> str:
    if not isinstance(value, str) or value not in dict(_category_choices()):
        raise FactValueError("Choose categories of the catalog (by their slug, e.g. \"keyboards\").")
    return value


def _dollars(value: Any) -> str:
    return money(value)


FACTS: dict[str, Fact] = {fact.name: fact for fact in (
    Fact("total", "Order total", NUMBER_OPS, _money, _dollars),
    Fact("item_count", "Number of items", NUMBER_OPS, _integer(0, 100_000, "items")),
    Fact("line_count", "Number of lines", NUMBER_OPS, _integer(0, 1_000, "lines")),
    Fact("categories", "Categories in the order", SET_OPS, _category, choices=_category_choices),
    Fact("ship_state", "Shipping state (USPS code)", TEXT_OPS, _state),
    Fact("zip_prefix", "ZIP code's first three digits", TEXT_OPS, _zip3),
    Fact("risk_score", "Risk score (0–100)", NUMBER_OPS, _integer(0, 100, "points")),
    Fact("account_age_days", "Account age in days", NUMBER_OPS, _integer(0, 36_500, "days")),
    Fact("delivered_orders", "Delivered orders so far", NUMBER_OPS, _integer(0, 1_000_000, "orders")),
    Fact("lifetime_spend", "Lifetime spend (paid minus refunded)", NUMBER_OPS, _money, _dollars),
    Fact("declines_30d", "Payments declined in the last 30 days", NUMBER_OPS, _integer(0, 10_000, "declines")),
)}


def fact_choices() -> list[tuple[str, str]]:
    return [(fact.name, fact.label) for fact in FACTS.values()]


# --- Reading facts --------------------------------------------------------------------------

DECLINES_WINDOW = timedelta(days=30)
_ORDER_FIELDS = {"total": "total", "risk_score": "risk_score"}


def _customer_orders_before():
    return Order.objects.filter(owner=OuterRef("owner"), created_at__lt=OuterRef("created_at")).order_by()


def _count(queryset) -> Subquery:
    return Coalesce(Subquery(queryset.values("owner").annotate(n=Count("pk")).values("n")), 0)


# Facts read as annotations of the order's row: name → expression.
_ANNOTATIONS: dict[str, Callable[[], Any]] = {
    "item_count": lambda: Coalesce(Subquery(
        OrderLine.objects.filter(order=OuterRef("pk")).order_by().values("order")
        .annotate(n=Sum("quantity")).values("n")), 0),
    "line_count": lambda: Coalesce(Subquery(
        OrderLine.objects.filter(order=OuterRef("pk")).order_by().values("order")
        .annotate(n=Count("pk")).values("n")), 0),
    "account_joined": lambda: F("owner__date_joined"),
    "delivered_orders": lambda: _count(_customer_orders_before().filter(state=OrderState.DELIVERED)),
    "lifetime_spend": lambda: Coalesce(Subquery(
        _customer_orders_before().exclude(transaction_id="").values("owner")
        .annotate(spend=Sum(ExpressionWrapper(F("total") - F("refunded_amount"),
                                              output_field=DecimalField(max_digits=12, decimal_places=2))))
        .values("spend")), Decimal("0.00"), output_field=DecimalField(max_digits=12, decimal_places=2)),
    "declines_30d": lambda: Coalesce(Subquery(
        OrderEvent.objects.filter(order__owner=OuterRef("owner"), transition__in=DECLINE_TRANSITIONS,
                                  created_at__lt=OuterRef("created_at"),
                                  created_at__gte=OuterRef("created_at") - DECLINES_WINDOW)
        .order_by().values("order__owner").annotate(n=Count("pk")).values("n")), 0, output_field=IntegerField()),
}


def facts_read(order_ids: list[int], names: Iterable[str]) -> dict[int, dict[str, Any]]:
    """{order id: {fact: value}} for the facts `names`, as Python values (Decimal money, int
    counts, a sorted list of category slugs; None for a risk score not yet known). One query
    for the orders' own and customer facts, one more when `categories` is asked for."""
    names = set(names) & set(FACTS)
    if not order_ids:
        return {}
    annotations = {name: _ANNOTATIONS[name]() for name in names if name in _ANNOTATIONS}
    if "account_age_days" in names:
        annotations["account_joined"] = _ANNOTATIONS["account_joined"]()
    rows = Order.objects.filter(pk__in=order_ids).order_by().annotate(**annotations).values(
        "pk", "created_at", "ship_state", "ship_zip", *_ORDER_FIELDS.values(), *annotations)
    facts: dict[int, dict[str, Any]] = {}
    for row in rows:
        values = {name: row[name] for name in names if name in _ANNOTATIONS}
        values.update({name: row[field] for name, field in _ORDER_FIELDS.items() if name in names})
        if "ship_state" in names:  # its USPS code; text that names no state stays as written, uppercased
            values["ship_state"] = state_code(row["ship_state"]) or row["ship_state"].strip().upper()
        if "zip_prefix" in names:
            values["zip_prefix"] = row["ship_zip"][:3]
        if "account_age_days" in names:
            values["account_age_days"] = max(0, (row["created_at"] - row["account_joined"]).days)
        if "lifetime_spend" in names:
            values["lifetime_spend"] = Decimal(values["lifetime_spend"]).quantize(Decimal("0.01"))
        facts[row["pk"]] = values
    if "categories" in names:
        for values in facts.values():
            values["categories"] = []
        pairs = (OrderLine.objects.filter(order__in=list(facts)).order_by()
                 .values_list("order_id", "product__category__slug").distinct())
        for order_id, slug in pairs:
            facts[order_id]["categories"].append(slug)
        for values in facts.values():
            values["categories"].sort()
    return facts


def facts_recorded(facts: dict[str, Any]) -> dict[str, Any]:
    """Facts as JSON keeps them: money as "0.00" strings; the rest as they are."""
    return {name: f"{value:.2f}" if isinstance(value, Decimal) else value for name, value in facts.items()}


def facts_typed(recorded: dict[str, Any]) -> dict[str, Any]:
    """Recorded facts (facts_recorded) back as Python values; unknown names are dropped."""
    return {name: Decimal(value) if FACTS[name].parse is _money and value is not None else value
            for name, value in recorded.items() if name in FACTS}
