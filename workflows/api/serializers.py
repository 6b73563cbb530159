"""Review rule API shapes: camelCase keys; the condition a tree of comparisons, checked as the admin checks it."""
from rest_framework import serializers

from store.api import fields
from store.numbers import AsciiIntegerField
from workflows.models import HOLD_HOURS_MAX, HoldExpiry, ReviewRule
from workflows.review.conditions import ConditionInvalid, condition_clean


class ConditionField(serializers.JSONField):
    """A condition tree (workflows.review.conditions), canonical on the way in; every problem is
    one message naming where it is: "all[1] (Account age in days): Enter a whole number…"."""

    def to_internal_value(self, data):
        try:
            return condition_clean(super().to_internal_value(data))
        except ConditionInvalid as exc:
            raise serializers.ValidationError([str(problem) for problem in exc.problems]) from exc


class ReviewRuleSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = fields.CharField(max_length=120)
    priority = AsciiIntegerField(min_value=0, max_value=2_147_483_647, default=100,
                                 help_text="Rules are asked lowest first; the first that matches decides.")
    enabled = serializers.BooleanField(default=True)
    action = fields.ChoiceField(choices=ReviewRule.Action.choices, default=ReviewRule.Action.HOLD)
    condition = ConditionField(help_text='{"all": […]} / {"any": […]} / {"not": …} of {"fact", "op", "value"}; '
                                         "facts and their tests: docs/api.md.")
    reason = fields.CharField(max_length=200, required=False, allow_blank=True, default="",
                              help_text="Why it holds an order, as staff read it (needed to hold).")
    customerMessage = fields.CharField(source="customer_message", max_length=200, required=False, allow_blank=True,
                                       default="", help_text="What the customer reads when it rejects (needed to "
                                                             "reject).")
    holdHours = AsciiIntegerField(source="hold_hours", min_value=1, max_value=HOLD_HOURS_MAX, required=False,
                                  allow_null=True, default=None,
                                  help_text="How long a hold may wait; null: the shop's default.")
    expiryAction = fields.ChoiceField(source="expiry_action", choices=HoldExpiry.choices, required=False,
                                      allow_blank=True, default="",
                                      help_text="What the deadline does; empty: the shop's default.")
    conditionText = serializers.CharField(source="condition_words", read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)

    def validate(self, attrs):
        action = attrs.get("action", getattr(self.instance, "action", ReviewRule.Action.HOLD))
        reason = attrs.get("reason", getattr(self.instance, "reason", ""))
        message = attrs.get("customer_message", getattr(self.instance, "customer_message", ""))
        if action == ReviewRule.Action.REJECT and not message.strip():
            raise serializers.ValidationError({"customerMessage": ["A rule that rejects says what the customer "
                                                                   "reads."]})
        if action == ReviewRule.Action.HOLD and not reason.strip():
            raise serializers.ValidationError({"reason": ["A rule that holds says why, for the staff who decide."]})
        return attrs


class BacktestInput(serializers.Serializer):
    rule = ReviewRuleSerializer()
    last = AsciiIntegerField(min_value=1, max_value=500, default=100, help_text="How many recent orders.")


class BacktestRowOutput(serializers.Serializer):
    order = serializers.IntegerField(source="order.pk")
    number = serializers.CharField(source="order.number")
    total = serializers.DecimalField(source="order.total", max_digits=12, decimal_places=2, coerce_to_string=False)
    placedAt = serializers.DateTimeField(source="order.created_at")
    matched = serializers.BooleanField()
    because = serializers.CharField()
    factsRecorded = serializers.BooleanField(source="recorded")


class BacktestOutput(serializers.Serializer):
    considered = serializers.IntegerField()
    matched = serializers.SerializerMethodField()
    orders = BacktestRowOutput(source="matched", many=True)

    def get_matched(self, backtest) -> int:
        return len(backtest.matched)
