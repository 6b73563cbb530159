"""Forms of the order admin (the order and customer pages' buttons, the report's period): they
parse input, the services and selectors decide.

Reject and cancel take storefront.forms.StaffDecisionForm, which the storefront's staff cancel page shares.
"""
from datetime import date, timedelta
from decimal import Decimal

from django import forms

from orders.selectors import FIRST_DAY, LAST_DAY
from orders.services import NOTE_MAX_LENGTH
from orders.validators import validate_zip_code
from store.numbers import AsciiDecimalFormField, AsciiIntegerFormField


class ErrorTextMixin:
    def error_text(self) -> str:
        """The form's errors in one sentence, for an admin message (those of no field as they are)."""
        return " ".join(
            " ".join(errors) if name not in self.fields else
            f"{self.fields[name].label or name.capitalize()}: {' '.join(errors)}"
            for name, errors in self.errors.items()
        )


class RefundForm(ErrorTextMixin, forms.Form):
    """A refund for `reason`: chosen units of the order's lines and/or an `amount`.

    One `line_<id>` quantity per line that has units left to refund (`lines`: lines annotated
    by orders.selectors.lines_with_refunds). With units chosen, the amount is their price
    unless staff lower it (the amount field carries the number the page proposed, so an
    untouched amount means "the items' price"); `restock` returns the units to stock. Without
    units it is a refund of `amount` only. refund_create checks every number again under the
    order's lock.

    `idempotency_key` is made when the form is rendered: submitting the same form twice (a
    double click, a resubmitted page) refunds once.
    """

    amount = AsciiDecimalFormField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), label="Amount (USD)",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01"}), show_hidden_initial=True,
        help_text="Leave it as proposed to refund the chosen items' price; enter less to refund less.",
    )
    reason = forms.CharField(max_length=200, strip=True,
                             help_text="The customer reads the reason on their order: internal remarks go in a note.")
    restock = forms.BooleanField(required=False, label="Return these units to stock")
    idempotency_key = forms.CharField(
        max_length=128, widget=forms.HiddenInput, label="Page",
        error_messages={"required": "out of date: reload it.", "max_length": "out of date: reload it."},
    )

    def __init__(self, *args, lines=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.refund_lines = []
        for line in lines:
            if line.refundable_quantity <= 0:
                continue
            name = f"line_{line.pk}"
            self.fields[name] = AsciiIntegerFormField(
                min_value=0, max_value=line.refundable_quantity, initial=0, required=False,
                label=f"Units of {line.name}", widget=forms.NumberInput(attrs={"min": "0", "step": "1"}),
            )
            self.refund_lines.append((line, name))

    def clean(self) -> dict:
        # Units posted for a line the form does not offer (refunded meanwhile in another tab, or
        # not this order's) would leave a refund of the proposed amount: refuse the whole page.
        offered = {name for _, name in self.refund_lines}
        stale = sorted(key.removeprefix("line_") for key, value in self.data.items()
                       if key.startswith("line_") and key not in offered and str(value).strip() not in ("", "0"))
        if stale:
            raise forms.ValidationError(
                "This page is out of date: units it offered were refunded meanwhile "
                f"(line {', '.join(stale)}). Reload it and choose again.", code="stale")
        return super().clean()

    @property
    def line_rows(self) -> list[tuple]:
        """(line, bound quantity field) for the template's table."""
        return [(line, self[name]) for line, name in self.refund_lines]

    def chosen_lines(self) -> list[tuple[int, int]]:
        """(line id, units) of the lines given more than 0 units."""
        return [(line.pk, self.cleaned_data[name]) for line, name in self.refund_lines
                if self.cleaned_data.get(name)]

    def amount_asked(self) -> Decimal | None:
        """The amount staff typed, or None for "the chosen items' price" (they left it as proposed)."""
        if self.chosen_lines() and "amount" not in self.changed_data:
            return None
        return self.cleaned_data["amount"]

class StaffNoteForm(ErrorTextMixin, forms.Form):
    """An internal note on an order or a customer (orders.services.staff_note_add): staff only."""

    text = forms.CharField(
        label="Internal note", max_length=NOTE_MAX_LENGTH, strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="For colleagues only: never shown, sent or e-mailed to the customer.",
    )


class AddressForm(forms.Form):
    """A corrected shipping address (orders.services.address.order_address_correct)."""

    address = forms.CharField(label="Street address", max_length=200, strip=True)
    city = forms.CharField(label="City", max_length=100, strip=True)
    state = forms.CharField(label="State", max_length=100, strip=True)
    zip = forms.CharField(label="ZIP code", max_length=10, strip=True, validators=[validate_zip_code])


class ReportPeriodForm(forms.Form):
    """The orders report's period: `date_from` to `date_to`, both included, YYYY-MM-DD in ASCII digits,
    at most MAX_DAYS days; both default to the last DEFAULT_DAYS days (today included)."""

    DEFAULT_DAYS = 30
    MAX_DAYS = 366

    date_from = forms.DateField(label="From", input_formats=["%Y-%m-%d"],
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", input_formats=["%Y-%m-%d"],
                              widget=forms.DateInput(attrs={"type": "date"}))

    @classmethod
    def defaults(cls, today: date) -> dict[str, str]:
        return {"date_from": (today - timedelta(days=cls.DEFAULT_DAYS - 1)).isoformat(), "date_to": today.isoformat()}

    def _clean_ascii(self, name: str) -> date:
        raw = self.data.get(name, "")
        if not str(raw).isascii():
            raise forms.ValidationError("Enter the date as YYYY-MM-DD, in ASCII digits.")
        day = self.cleaned_data[name]
        if not FIRST_DAY <= day <= LAST_DAY:
            raise forms.ValidationError(f"Enter a day from {FIRST_DAY} to {LAST_DAY}.")
        return day

    def clean_date_from(self) -> date:
        return self._clean_ascii("date_from")

    def clean_date_to(self) -> date:
        return self._clean_ascii("date_to")

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end:
            if start > end:
                raise forms.ValidationError("The period ends before it starts: “From” must be on or before “To”.")
            if (end - start).days + 1 > self.MAX_DAYS:
                raise forms.ValidationError(f"Choose a period of at most {self.MAX_DAYS} days.")
        return cleaned
