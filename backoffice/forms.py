"""Forms of the back office (the order and customer pages' buttons, the report's period, a
review rule, a workflow version): they parse input, the services and selectors decide.

Reject and cancel take storefront.forms.StaffDecisionForm, which the storefront's staff cancel page shares.
"""
import re
from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from orders.selectors import FIRST_DAY, LAST_DAY
from orders.services import NOTE_MAX_LENGTH, RefundLineRequest
from orders.validators import validate_zip_code
from store.money import money
from store.numbers import AsciiDecimalFormField, AsciiIntegerFormField
from workflows.models import HOLD_HOURS_MAX, ReviewRule, WorkflowVersion
from workflows.policy.schema import Setting, fields, policy_clean, value_at, value_set
from workflows.policy.selectors import version_revision
from workflows.policy.services import DRAFT_CHANGED
from workflows.review.conditions import ConditionInvalid, condition_clean
from workflows.review.facts import FACTS, OP_WORDS, fact_choices


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
    units it is a refund of `amount` only. `shipping` adds the order's shipping not refunded
    yet (`shipping_offered`, USD; the page offers the box only when there is some) to the
    units chosen, with an untouched amount meaning "the units' price and the shipping". Without
    units the amount is what is refunded, the box saying that it counts all the shipping left
    (the amount the page proposes, everything left, is then the full refund). refund_create
    checks every number again under the order's lock and refuses a second refund of the shipping.

    `idempotency_key` is made when the form is rendered: submitting the same form twice (a
    double click, a resubmitted page) refunds once. Each quantity field carries its line's unit
    price (`data-unit-price`, USD) for static/js/admin_refund.js, which sets the amount to the
    chosen units' price as staff choose them; without script the server computes it
    (`amount_asked`) and the confirmation page shows it before anything is refunded.
    """

    amount = AsciiDecimalFormField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), label="Amount (USD)",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01"}), show_hidden_initial=True,
        help_text="With units chosen, their price (the page sets it as you choose them); enter less to refund less.",
    )
    reason = forms.CharField(max_length=200, strip=True,
                             help_text="The customer reads the reason on their order: internal remarks go in a note.")
    restock = forms.BooleanField(required=False, label="Return these units to stock")
    shipping = forms.BooleanField(
        required=False, label="Also refund shipping",
        help_text="Adds the shipping to the units chosen; without units, the refund is the amount above, "
                  "with all the shipping left counted in it.")
    idempotency_key = forms.CharField(
        max_length=128, widget=forms.HiddenInput, label="Page",
        error_messages={"required": "out of date: reload it.", "max_length": "out of date: reload it."},
    )

    def __init__(self, *args, lines=(), shipping_offered: Decimal = Decimal("0.00"), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.shipping_offered = shipping_offered
        if shipping_offered > 0:
            self.fields["shipping"].label = f"Also refund shipping ({money(shipping_offered)})"
            self.fields["shipping"].widget.attrs["data-shipping-price"] = str(shipping_offered)
        self.refund_lines = []
        for line in lines:
            if line.refundable_quantity <= 0:
                continue
            name = f"line_{line.pk}"
            self.fields[name] = AsciiIntegerFormField(
                min_value=0, max_value=line.refundable_quantity, initial=0, required=False,
                label=f"Units of {line.name}",
                widget=forms.NumberInput(attrs={"min": "0", "step": "1", "data-unit-price": str(line.unit_price)}),
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
        """The amount in the field, or None for "the chosen units' price" (and the shipping when
        asked) when units are chosen and the amount was left as proposed. Without units the
        amount is what the field says, so the page refunds what it showed: the proposed
        amount with the box is everything left, shipping included."""
        if self.chosen_lines() and "amount" not in self.changed_data:
            return None
        return self.cleaned_data["amount"]

    def refund_asked(self) -> dict:
        """The valid form as orders.services.refund_preview and refund_create take it."""
        return {"amount": self.amount_asked(), "reason": self.cleaned_data["reason"],
                "lines": [RefundLineRequest(line_id, quantity) for line_id, quantity in self.chosen_lines()],
                "restock": self.cleaned_data["restock"], "shipping": self.cleaned_data["shipping"]}

    def carried(self) -> list[tuple[str, str]]:
        """(name, value) of what was posted for this form, as the confirmation page posts it again
        (hidden), so the confirmed refund is the one shown; the amount's proposed value comes along."""
        names = [*(self.add_prefix(name) for name in self.fields), self["amount"].html_initial_name]
        return [(name, value) for name in names for value in self.data.getlist(name)]


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


CONDITION_ROWS = 8


def _condition_rows() -> dict[str, forms.Field]:
    """The fields of CONDITION_ROWS rows: c<row>_not, c<row>_fact, c<row>_op, c<row>_value."""
    facts, ops = [("", "—"), *fact_choices()], [("", "—"), *OP_WORDS.items()]
    fields = {}
    for row in range(CONDITION_ROWS):
        fields[f"c{row}_not"] = forms.BooleanField(label="not", required=False)
        fields[f"c{row}_fact"] = forms.ChoiceField(label="fact", choices=facts, required=False)
        fields[f"c{row}_op"] = forms.ChoiceField(label="test", choices=ops, required=False)
        fields[f"c{row}_value"] = forms.CharField(
            label="value", required=False, max_length=500,
            help_text="For “is one of”, separate values with commas." if row == 0 else "")
    return fields


class ReviewRuleForm(type("ConditionRows", (forms.Form,), _condition_rows()), forms.ModelForm):
    """A review rule as staff write it: what it does, and its condition as rows of "fact, test,
    value" joined by all or any, each row maybe negated. The rows become the rule's condition
    tree (workflows.review.conditions), checked against the facts' types: a problem shows on its
    row's value. A condition the rows cannot show (groups inside groups, written through the API)
    is kept as it is and shown in words (`nested`)."""

    ROWS = CONDITION_ROWS
    match = forms.ChoiceField(label="Match", choices=(("all", "All of these conditions"),
                                                      ("any", "Any of these conditions")), initial="all",
                              required=False)

    class Meta:
        model = ReviewRule
        fields = ("name", "priority", "enabled", "action", "reason", "customer_message", "hold_hours",
                  "expiry_action")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.nested = False
        for field in ("priority", "hold_hours"):
            self.fields[field] = AsciiIntegerFormField(
                label=self.fields[field].label, required=self.fields[field].required,
                help_text=self.fields[field].help_text, min_value=0 if field == "priority" else 1,
                max_value=2_147_483_647 if field == "priority" else HOLD_HOURS_MAX)
        condition = self.instance.condition if self.instance.pk else None
        if condition:
            rows = self.rows_of(condition)
            if rows is None:
                self.nested = True
            else:
                self.initial["match"] = "any" if "any" in condition else "all"
                for row, (negated, leaf) in enumerate(rows):
                    self.initial.update({f"c{row}_not": negated, f"c{row}_fact": leaf["fact"],
                                         f"c{row}_op": leaf["op"], f"c{row}_value": self._value_text(leaf)})

    @classmethod
    def rows_of(cls, condition: dict) -> list[tuple[bool, dict]] | None:
        """(negated, comparison) per row when the tree is one group of comparisons, else None."""
        kind = "all" if "all" in condition else "any" if "any" in condition else None
        children = condition[kind] if kind else [condition]
        rows = []
        for child in children:
            negated = "not" in child
            leaf = child["not"] if negated else child
            if "fact" not in leaf:
                return None
            rows.append((negated, leaf))
        return rows if len(rows) <= cls.ROWS else None

    @staticmethod
    def _value_text(leaf: dict) -> str:
        value = leaf["value"]
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)

    @staticmethod
    def _value_of(fact: str, op: str, text: str):
        items = [item.strip() for item in text.split(",") if item.strip()] if op == "in" else None
        if fact == "categories":  # staff type names or slugs
            by_name = {name.lower(): slug for slug, name in FACTS["categories"].choices()}
            items = [by_name.get(item.lower(), item) for item in (items or [text.strip()])]
        return items if items is not None else text.strip()

    def clean(self):
        cleaned = super().clean()
        if self.nested:
            return cleaned
        rows, tree_rows = [], []
        for row in range(self.ROWS):
            fact, op, text = (cleaned.get(f"c{row}_{part}") or "" for part in ("fact", "op", "value"))
            if not (fact or op or text.strip()):
                continue
            if not fact or not op:
                self.add_error(f"c{row}_fact" if not fact else f"c{row}_op", "Choose a fact and a test for this row.")
                continue
            leaf = {"fact": fact, "op": op, "value": self._value_of(fact, op, text)}
            rows.append({"not": leaf} if cleaned.get(f"c{row}_not") else leaf)
            tree_rows.append(row)
        if not rows:
            if not self.errors:
                self.add_error("c0_fact", "A rule needs at least one condition.")
            return cleaned
        try:
            self.instance.condition = condition_clean({cleaned.get("match") or "all": rows})
        except ConditionInvalid as exc:
            for problem in exc.problems:
                index = re.match(r"^(?:all|any)\[(\d+)\]", problem.path)
                row = tree_rows[int(index.group(1))] if index else 0
                self.add_error(f"c{row}_value", problem.message)
        return cleaned


def policy_field_name(path: str) -> str:
    """A policy path as a form field's name: "steps.payment.timeoutSeconds" → "steps__payment__timeoutSeconds"."""
    return path.replace(".", "__")


def _policy_form_field(setting: Setting) -> forms.Field:
    """A form field for one value of the policy: its type only; its range is policy_clean's, so the
    form, the API and the YAML import refuse the same values with the same words."""
    unit = f" ({setting.unit})" if setting.unit else ""
    options = {"label": f"{setting.label}{unit}", "help_text": setting.help}
    if setting.kind is bool:
        return forms.BooleanField(required=False, **options)
    if setting.kind is str:
        return forms.ChoiceField(choices=[(choice, choice) for choice in setting.choices], **options)
    if setting.kind is int:
        return AsciiIntegerFormField(error_messages={"invalid": "Enter a whole number."}, **options)
    return AsciiDecimalFormField(error_messages={"invalid": "Enter a number."}, **options)


class WorkflowVersionForm(forms.ModelForm):
    """A draft workflow version as staff edit it: one field per value of the policy (its steps,
    in the pipeline's order, then payment and holds) and a note. The whole policy is checked by
    workflows.policy.schema.policy_clean; each problem shows on its field. A draft's form carries
    the draft's revision as it was read: when someone else saved the draft since, the form is
    refused (a second tab would otherwise post its whole policy over their change)."""

    revision = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = WorkflowVersion
        fields = ("note",)

    def __init__(self, *args, policy: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["revision"].initial = version_revision(self.instance)
        source = self.instance.policy if self.instance.pk else policy
        self.paths = {}
        for path, setting in fields():
            name = policy_field_name(path)
            self.paths[name] = path
            self.fields[name] = _policy_form_field(setting)
            if source is not None:
                try:
                    self.fields[name].initial = value_at(source, path)
                except KeyError:
                    pass

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk:
            stored = WorkflowVersion.objects.filter(pk=self.instance.pk).first()
            sent = cleaned.get("revision")  # the admin's page always sends it; a script may not
            if stored is not None and sent and sent != version_revision(stored):
                raise ValidationError(DRAFT_CHANGED, code="draft_changed")
        policy: dict = {}
        for name, path in self.paths.items():
            if name not in cleaned:  # its field refused the input already
                return cleaned
            value = cleaned[name]
            value_set(policy, path, float(value) if isinstance(value, Decimal) else value)
        try:
            self.instance.policy = policy_clean(policy)
        except ValidationError as exc:
            for path, messages in exc.message_dict.items():
                self.add_error(policy_field_name(path) if policy_field_name(path) in self.fields else None, messages)
        return cleaned
