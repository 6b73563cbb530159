"""Webhooks in the admin: endpoints (add, change, rotate the secret), and each endpoint's delivery
log with its attempts and replay. Everything needs WEBHOOK_MANAGE, as the API does; endpoints are
written through webhooks.services, so the admin checks what the API checks."""
from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from backoffice.admin.base import BoundedChangeListMixin, OrderNumberSearchMixin, ReadOnlyModelAdmin, order_link
from store import permissions
from webhooks import services
from webhooks.events import ALL, EVENT_TYPES
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


class WebhookPermissionMixin:
    def has_module_permission(self, request: HttpRequest) -> bool:
        return permissions.can(request.user, permissions.WEBHOOK_MANAGE)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return permissions.can(request.user, permissions.WEBHOOK_MANAGE)


class EndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https", help_text="http or https, on a public address.")
    events = forms.MultipleChoiceField(
        choices=[(ALL, "All events (*)"), *((name, name) for name in EVENT_TYPES)],
        widget=forms.CheckboxSelectMultiple, help_text="Which order events are POSTed here.")

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "events", "enabled", "description")


def _deliveries(count: int) -> str:
    return f"{count} deliver{'y' if count == 1 else 'ies'}"


def _secret_told(request: HttpRequest, endpoint: WebhookEndpoint, what: str) -> None:
    messages.warning(request, f"{what} {endpoint.url}: {endpoint.secret} — copy it now, it is not shown again.")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(WebhookPermissionMixin, BoundedChangeListMixin, admin.ModelAdmin):
    form = EndpointForm
    list_display = ("url", "events", "enabled", "consecutive_failures", "disabled_reason", "delivery_log",
                    "created_at")
    list_filter = ("enabled",)
    search_fields = ("url", "description")
    readonly_fields = ("consecutive_failures", "disabled_reason", "created_at", "delivery_log")
    actions = ("rotate_secret",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return permissions.can(request.user, permissions.WEBHOOK_MANAGE)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return permissions.can(request.user, permissions.WEBHOOK_MANAGE)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return permissions.can(request.user, permissions.WEBHOOK_MANAGE)

    def get_fields(self, request: HttpRequest, obj=None):
        return ("url", "events", "enabled", "description") + (self.readonly_fields if obj else ())

    @admin.display(description="delivery log")
    def delivery_log(self, endpoint: WebhookEndpoint) -> str:
        url = reverse("admin:webhooks_webhookdelivery_changelist") + f"?endpoint__id__exact={endpoint.pk}"
        return format_html('<a href="{}">{}</a>', url, _deliveries(endpoint.deliveries.count()))

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form, change: bool) -> None:
        values = {name: form.cleaned_data[name] for name in form.Meta.fields}
        if change:
            services.endpoint_update(endpoint=obj, actor=request.user, **values)
            return
        endpoint = services.endpoint_create(actor=request.user, **values)
        obj.pk, obj.secret, obj.created_at = endpoint.pk, endpoint.secret, endpoint.created_at
        _secret_told(request, endpoint, "The signing secret of")

    @admin.action(description="Rotate the signing secret of selected endpoints", permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            _secret_told(request, services.endpoint_secret_rotate(endpoint=endpoint, actor=request.user),
                         "The new signing secret of")


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ("number", "at", "status_code", "latency_ms", "ok", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(WebhookPermissionMixin, OrderNumberSearchMixin, ReadOnlyModelAdmin):
    """The delivery log: every event sent or to send to each endpoint, with its attempts."""

    list_display = ("created_at", "endpoint", "event_type", "order_number", "status", "attempts", "next_attempt_at",
                    "last_error")
    list_select_related = ("endpoint",)
    list_filter = ("endpoint", "status", "event_type")
    date_hierarchy = "created_at"
    search_fields = ("message_id",)
    search_help_text = "Message id (webhook-id) or order number."
    fields = ("endpoint", "order_number", "event_type", "message_id", "status", "attempts", "next_attempt_at",
              "delivered_at", "last_error", "created_at", "body")
    readonly_fields = fields
    inlines = (AttemptInline,)
    actions = ("replay",)

    @admin.display(description="order", ordering="order_id")
    def order_number(self, delivery: WebhookDelivery) -> str:
        return order_link(delivery.order_id)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return permissions.can(request.user, permissions.WEBHOOK_MANAGE)

    @admin.action(description="Replay selected deliveries (same body and webhook-id)", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = sum(services.delivery_replay(delivery=delivery, actor=request.user) for delivery in queryset)
        messages.success(request, f"{_deliveries(count)} will go out again, each after its order's "
                                  "earlier ones.")
