"""The customer's notifications, mounted at /notifications/."""
from django.urls import path

from notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.notification_list, name="notification_list"),
    path("read/", views.notification_read_all, name="notification_read_all"),
    path("<int:notification_id>/read/", views.notification_read, name="notification_read"),
]
