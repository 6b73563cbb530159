"""Serving uploaded files (MEDIA_ROOT at MEDIA_URL) from the app, for one machine without a proxy.

Whitenoise serves only static files. This view serves the upload types the app accepts
(MEDIA_TYPES), with their Content-Type fixed by the extension and headers that keep a file
from ever acting as a page: nosniff, and a Content-Security-Policy that sandboxes it. Uploads
get a new name each time (catalog.pictures), so browsers may keep them for a year. Anything
else under MEDIA_ROOT, and any path outside it, is a 404. With SERVE_MEDIA off (a reverse
proxy, object storage or a CDN serves MEDIA_URL) the URL is not routed at all.
"""
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from django.views.static import serve

# Extension → Content-Type of the files the app writes under MEDIA_ROOT.
MEDIA_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".gif": "image/gif"}
MEDIA_CACHE_CONTROL = "public, max-age=31536000, immutable"
# Opened on its own, a file may show as an image and do nothing else.
MEDIA_CONTENT_SECURITY_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


@require_safe
def media_serve(request: HttpRequest, path: str) -> HttpResponse:
    """GET/HEAD MEDIA_URL<path>: the file under MEDIA_ROOT (200, or 304 when unchanged); 404 otherwise."""
    content_type = MEDIA_TYPES.get(PurePosixPath(path).suffix.lower())
    if content_type is None:
        raise Http404("No such file.")
    try:
        response = serve(request, path, document_root=settings.MEDIA_ROOT)
    except SuspiciousFileOperation:  # a path out of MEDIA_ROOT ("../")
        raise Http404("No such file.") from None
    if response.status_code == 200:
        response["Content-Type"] = content_type
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = MEDIA_CACHE_CONTROL
    response["Content-Security-Policy"] = MEDIA_CONTENT_SECURITY_POLICY
    return response
