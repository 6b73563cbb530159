"""Forms of the account pages and of the admin, adapted to the e-mail login."""
from django import forms
from django.contrib.auth.forms import (
    AdminUserCreationForm,
    AuthenticationForm,
    UserChangeForm,
    UserCreationForm,
)

from accounts.models import User
from accounts.services import EMAIL_TAKEN


class EmailAuthenticationForm(AuthenticationForm):
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


class AdminUserAddForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name")


class AdminUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
