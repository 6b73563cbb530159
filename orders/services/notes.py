"""Staff's internal notes on orders and customers (orders.models.StaffNote)."""
from django.db import transaction

from orders.models import Order, StaffNote
from store import permissions
from store.errors import ValidationFailed
from store.request_context import request_id_var

NOTE_MAX_LENGTH = 2000


def staff_note_add(*, author, text: str, order: Order | None = None, customer=None) -> StaffNote:
    """Write `text` as a note by `author` on `order` or on `customer` (exactly one of them).

    Needs orders.view_order (the note is about other customers' orders) and orders.add_staffnote:
    PermissionRefused (403) otherwise. Blank text or more than NOTE_MAX_LENGTH characters is
    ValidationFailed (400, field "text"), and nothing is written. The note reaches nobody but
    staff: it is not an order event, so nothing is published, notified or e-mailed.
    """
    permissions.require(author, permissions.ORDER_VIEW)
    permissions.require(author, permissions.NOTE_ADD)
    if (order is None) == (customer is None):
        raise ValueError("a note is on an order or on a customer, not both nor neither")
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("A note needs some text.", fields={"text": "Write the note."})
    if len(text) > NOTE_MAX_LENGTH:
        raise ValidationFailed(f"A note is at most {NOTE_MAX_LENGTH} characters ({len(text)} given).",
                               fields={"text": f"At most {NOTE_MAX_LENGTH} characters."})
    with transaction.atomic():
        return StaffNote.objects.create(order=order, customer=customer, author=author, author_email=author.email,
                                        text=text, request_id=request_id_var.get() or "")
