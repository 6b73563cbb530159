"""Webhook API shapes: camelCase keys. The endpoint's secret is in the answers that make one
(create, rotate) and nowhere else."""
from rest_framework import serializers

from store.api import fields
from webhooks.events import EVENT_TYPES


class EndpointSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    url = fields.CharField(max_length=500, help_text="http or https; refused when it leads to a private, loopback "
                                                     "or link-local address.")
    events = serializers.ListField(child=fields.CharField(max_length=40), allow_empty=False, max_length=50,
                                   help_text=f'Event types to send, or ["*"] for all: {", ".join(EVENT_TYPES)}.')
    enabled = serializers.BooleanField(default=True)
    description = fields.CharField(max_length=200, required=False, allow_blank=True, default="")
    disabledReason = serializers.CharField(source="disabled_reason", read_only=True,
                                           help_text="Why the store disabled it (failures in a row); empty otherwise.")
    consecutiveFailures = serializers.IntegerField(source="consecutive_failures", read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text='"whsec_" + base64 of the HMAC key; shown only here.')


class AttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    at = serializers.DateTimeField()
    status = serializers.IntegerField(source="status_code", allow_null=True, help_text="The receiver's HTTP status.")
    latencyMs = serializers.IntegerField(source="latency_ms")
    ok = serializers.BooleanField()
    error = serializers.CharField()


class DeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    messageId = serializers.CharField(source="message_id", help_text="The webhook-id header and the body's id.")
    type = serializers.CharField(source="event_type")
    orderId = serializers.IntegerField(source="order_id")
    status = serializers.CharField(help_text="pending, delivered or failed (given up).")
    attempts = serializers.IntegerField()
    nextAttemptAt = serializers.DateTimeField(source="next_attempt_at")
    deliveredAt = serializers.DateTimeField(source="delivered_at", allow_null=True)
    lastError = serializers.CharField(source="last_error")
    createdAt = serializers.DateTimeField(source="created_at")
    log = AttemptSerializer(source="attempt_log", many=True)


class ReplayInput(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()

    def validate(self, attrs):
        if attrs["until"] <= attrs["since"]:
            raise serializers.ValidationError({"until": ["Give a time after since."]})
        return attrs


class ReplayOutput(serializers.Serializer):
    replayed = serializers.IntegerField(help_text="How many deliveries go out again.")
