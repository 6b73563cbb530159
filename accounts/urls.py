"""Account pages, mounted at /accounts/."""
from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import second_factor_views, staff_views, views

app_name = "accounts"
urlpatterns = [
    path("register/", views.RegisterView.as_view(), name="register"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("addresses/add/", views.address_add, name="address_add"),
    path("addresses/<int:address_id>/edit/", views.address_edit, name="address_edit"),
    path("addresses/<int:address_id>/delete/", views.address_delete, name="address_delete"),
    path("addresses/<int:address_id>/default/", views.address_make_default, name="address_make_default"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("second-factor/", second_factor_views.verify, name="second_factor_verify"),
    path("second-factor/setup/", second_factor_views.setup, name="second_factor_setup"),
    path("second-factor/recovery-codes/", second_factor_views.recovery_codes,
         name="second_factor_recovery_codes"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_sent.html"),
        name="password_reset_sent",
    ),
    path("password/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("staff/invitation/done/", staff_views.StaffInvitationDoneView.as_view(), name="staff_invitation_done"),
    path("staff/invitation/<uidb64>/<token>/", staff_views.StaffInvitationView.as_view(), name="staff_invitation"),
]
