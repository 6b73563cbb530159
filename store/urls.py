"""Top-level URLs: pages per app, /api, admin, health probes, /metrics and uploaded files."""
from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from store import health, media

urlpatterns = [
    # First: the pages most requests ask for are found without trying every other app's patterns.
    path("", include("catalog.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("store.api.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("storefront.urls")),
    path("notifications/", include("notifications.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("livez", health.livez, name="livez"),
    path("", include("store.metrics_urls")),
]
if settings.SERVE_MEDIA:
    urlpatterns.append(path(f"{settings.MEDIA_URL.lstrip('/')}<path:path>", media.media_serve, name="media"))

# /api answers its bad requests, unmatched URLs and crashes in the API's JSON error format too.
handler400 = "store.api.errors.bad_request"
handler404 = "store.api.errors.page_not_found"
handler500 = "store.api.errors.server_error"
