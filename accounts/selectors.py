"""Reads for accounts: a customer's address book, always scoped to its owner."""
from django.db.models import QuerySet

from accounts.models import Address, User
from store.errors import NotFound


def address_list(*, user: User) -> QuerySet[Address]:
    """`user`'s addresses: the default first, then by label."""
    return Address.objects.filter(user=user)


def address_get(*, user: User, address_id: int) -> Address:
    """One of `user`'s addresses; NotFound (404) for another customer's, as for one that does not exist."""
    try:
        return Address.objects.get(user=user, pk=address_id)
    except (Address.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound(f"Address {address_id} was not found.") from None


def address_default(*, user: User) -> Address | None:
    return Address.objects.filter(user=user, is_default=True).first()
