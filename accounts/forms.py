"""Forms of the account pages and of the admin, adapted to the e-mail login."""
from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import (
    AdminUserCreationForm,
    AuthenticationForm,
    PasswordChangeForm,
    UserChangeForm,
    UserCreationForm,
)
from django.core.exceptions import ValidationError

from accounts import signin
from accounts.models import Address, User
from accounts.services import EMAIL_TAKEN
from accounts.staff import owner_change_refusal
from store import throttling


class GuardedSignInMixin:
    """AuthenticationForm's check, guarded like every sign-in (accounts.signin): the attempt counts
    against the address, a locked account is refused before its password is checked, and
    `refusal` tells the view to answer 429."""

    refusal = None

    def clean(self):
        email, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        self.refusal = throttling.address_refusal(self.request, "LOGIN")
        if self.refusal is None and email is not None and password:
            self.user_cache, self.refusal = signin.authenticate_guarded(self.request, email, password)
            if self.refusal is None and self.user_cache is None:
                raise self.get_invalid_login_error()
        if self.refusal is not None:
            raise ValidationError(self.refusal.message, code="throttled")
        if self.user_cache is not None:
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class GuardedPasswordChangeForm(PasswordChangeForm):
    """Django's password change, with the current password checked like a sign-in: wrong guesses
    count against the account and a locked account is refused (a stolen session cannot guess)."""

    refusal = None

    def __init__(self, user, *args, request=None, **kwargs) -> None:
        self.request = request
        super().__init__(user, *args, **{"label_suffix": "", **kwargs})

    def clean_old_password(self) -> str:
        password = self.cleaned_data["old_password"]
        confirmed, self.refusal = signin.authenticate_guarded(self.request, self.user.email, password)
        if self.refusal is not None:
            raise ValidationError(self.refusal.message, code="throttled")
        if confirmed is None or confirmed.pk != self.user.pk:
            raise ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return password


class AdminGuardedPasswordChangeForm(GuardedPasswordChangeForm):
    """The admin's "Change password" (for one's own account), checked like the storefront's."""

    required_css_class = "required"


class EmailAuthenticationForm(GuardedSignInMixin, AuthenticationForm):
    """Django's login form with an e-mail field (the user model's USERNAME_FIELD)."""

    username = forms.EmailField(
        label="E-mail address",
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Incorrect e-mail address or password.",
    }

    def __init__(self, request=None, *args, **kwargs) -> None:
        super().__init__(request, *args, **{"label_suffix": "", **kwargs})


class AdminLoginForm(GuardedSignInMixin, AdminAuthenticationForm):
    """The admin's sign-in, under the same limits as the storefront's and the API's."""


class RegisterForm(UserCreationForm):
    """Sign-up: e-mail, full name and a password that passes AUTH_PASSWORD_VALIDATORS."""

    class Meta:
        model = User
        fields = ("email", "name")
        widgets = {"email": forms.EmailInput(attrs={"autocomplete": "email"})}
        error_messages = {"email": {"unique": EMAIL_TAKEN}}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **{"label_suffix": "", **kwargs})
        self.fields["name"].required = True
        self.fields["name"].widget.attrs["autocomplete"] = "name"
        self.fields["password1"].label = "Password"
        self.fields["password2"].label = "Confirm password"


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("name",)
        widgets = {"name": forms.TextInput(attrs={"autocomplete": "name"})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **{"label_suffix": "", **kwargs})
        self.fields["name"].required = True


class AddressForm(forms.ModelForm):
    """An address of the book (the profile page); the view saves it through accounts.services."""

    class Meta:
        model = Address
        fields = ("label", "address", "city", "state", "zip", "is_default")
        labels = {"is_default": "Make this my default address"}
        widgets = {
            "address": forms.TextInput(attrs={"autocomplete": "street-address"}),
            "city": forms.TextInput(attrs={"autocomplete": "address-level2"}),
            "state": forms.TextInput(attrs={"autocomplete": "address-level1"}),
            "zip": forms.TextInput(attrs={"autocomplete": "postal-code", "inputmode": "numeric"}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **{"label_suffix": "", **kwargs})


class AdminUserAddForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name")


class AdminUserChangeForm(UserChangeForm):
    """The admin's Users page. `actor` (set by the admin) is who saves it: nobody deactivates
    or demotes themselves, nor the shop's last active owner (accounts.staff.owner_change_refusal)."""

    actor = None

    class Meta:
        model = User
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        if self.actor is not None and self.instance.pk is not None:
            refusal = owner_change_refusal(
                actor=self.actor, account=self.instance,
                active=cleaned.get("is_active", self.instance.is_active),
                superuser=cleaned.get("is_superuser", self.instance.is_superuser))
            if refusal:
                raise ValidationError(refusal, code="last_owner")
        return cleaned
