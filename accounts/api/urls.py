"""/api/auth/… (mounted by store.api.urls; no trailing slashes, as the API contract fixes them)."""
from django.urls import path

from accounts.api import views

urlpatterns = [
    path("register", views.RegisterApi.as_view(), name="api-auth-register"),
    path("login", views.LoginApi.as_view(), name="api-auth-login"),
    path("refresh", views.RefreshApi.as_view(), name="api-auth-refresh"),
    path("logout", views.LogoutApi.as_view(), name="api-auth-logout"),
    path("password", views.PasswordApi.as_view(), name="api-auth-password"),
    path("profile", views.ProfileApi.as_view(), name="api-auth-profile"),
]
