"""The store's user (e-mail is the login, plus a full name) and the shipping addresses they keep."""
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone

from accounts.validators import validate_zip_code


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> "User":
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> "User":
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> "User":
        """E-mail logins are case-insensitive: addresses are stored lower-cased."""
        return self.get(**{self.model.USERNAME_FIELD: (username or "").strip().lower()})


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("e-mail address", unique=True)
    name = models.CharField("full name", max_length=150, blank=True)
    is_staff = models.BooleanField(
        "staff status", default=False, help_text="Designates whether the user can log into the admin."
    )
    is_active = models.BooleanField("active", default=True)
    date_joined = models.DateTimeField("date joined", default=timezone.now)
    # Set when the worker gave up e-mailing this account's staff invitation (accounts.staff); cleared
    # when it is sent, or sent again.
    invitation_undelivered_at = models.DateTimeField("invitation e-mail not delivered at", null=True, blank=True,
                                                     editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        verbose_name = "user"
        verbose_name_plural = "users"
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        # Forms (admin, registration) save through here, not through the manager: keep one spelling per address.
        super().clean()
        self.email = type(self).objects.normalize_email(self.email).strip().lower()

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return (self.name.split() or [self.email])[0]


class Address(models.Model):
    """A shipping address in a customer's address book: the fields of checkout's shipping
    address, a label the customer chose, and at most one default per customer (the
    constraint), which checkout fills in first. Written through accounts.services only."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="addresses")
    label = models.CharField("label", max_length=50, help_text="A name for this address, such as Home or Work.")
    address = models.CharField("street address", max_length=200)
    city = models.CharField("city", max_length=100)
    state = models.CharField("state", max_length=100)
    zip = models.CharField("ZIP code", max_length=10, validators=[validate_zip_code])
    is_default = models.BooleanField("default address", default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    SHIPPING_FIELDS = ("address", "city", "state", "zip")

    class Meta:
        verbose_name = "address"
        verbose_name_plural = "addresses"
        ordering = ["-is_default", "label", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(is_default=True), name="address_one_default_per_user",
                violation_error_message="You already have a default address.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label}: {self.one_line()}"

    def one_line(self) -> str:
        return f"{self.address}, {self.city}, {self.state} {self.zip}"

    def shipping(self) -> dict[str, str]:
        """{address, city, state, zip}: the checkout form's shipping fields."""
        return {name: getattr(self, name) for name in self.SHIPPING_FIELDS}


class StaffMember(User):
    """The staff accounts as the owners' Staff page lists them (backoffice.admin.staff): the
    same rows as User, invited, given roles and deactivated through accounts.staff. It has no
    permissions of its own: only superusers (the shop's owners) manage staff."""

    class Meta:
        proxy = True
        verbose_name = "staff member"
        verbose_name_plural = "staff"
        default_permissions = ()
