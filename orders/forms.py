"""The words staff give when they stop an order: one form for the admin's confirmation pages and
the storefront's staff cancel page."""
from django import forms


class StaffDecisionForm(forms.Form):
    """What staff give when they reject or cancel a customer's order (the admin and the storefront).

    `note` stays with staff (the order's timeline); only `customer_message` reaches the customer,
    who is told `default_message` without one.
    """

    note = forms.CharField(
        label="Internal note", max_length=1000, required=False, strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="For staff only: kept on the order's timeline. Never shown or sent to the customer.",
    )
    customer_message = forms.CharField(
        label="Message to the customer", max_length=200, required=False, strip=True,
        widget=forms.TextInput(attrs={"size": 60}),
    )

    def __init__(self, *args, default_message: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer_message"].help_text = (
            f"Optional. Shown on their order and e-mailed to them; left empty, they read \u201c{default_message}\u201d."
        )
