"""/api/review-rules: staff read and write the review rules, and try one on recent orders.

Each method needs its rule permission (store.permissions: RULE_VIEW, RULE_ADD, RULE_CHANGE,
RULE_DELETE), as the admin does; the condition is checked as the admin's form checks it.
"""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from store import permissions
from store.permissions import StaffPermission
from workflows.api.serializers import BacktestInput, BacktestOutput, ReviewRuleSerializer
from workflows.models import ReviewRule
from workflows.review import rules
from workflows.review.evaluate import review_rule_backtest

INVALID = OpenApiResponse(description='Validation error: {"error", "code": "invalid", "fields"}; a condition\'s '
                                      'problems each name where they are ("all[1] (Account age in days): …")')
FORBIDDEN = OpenApiResponse(description='401 without a token, 403 {"code": "permission_denied"} without the '
                                        'rule permission')


class RuleApi(APIView):
    method_permissions: dict[str, permissions.StaffAction] = {}

    def get_permissions(self):
        return [StaffPermission(self.method_permissions.get(self.request.method, permissions.RULE_VIEW))()]


class ReviewRuleListApi(RuleApi):
    method_permissions = {"GET": permissions.RULE_VIEW, "POST": permissions.RULE_ADD}

    @extend_schema(tags=["review rules"], summary="Review rules, in the order they are asked",
                   responses={200: ReviewRuleSerializer(many=True), 401: FORBIDDEN, 403: FORBIDDEN})
    def get(self, request: Request) -> Response:
        return Response(ReviewRuleSerializer(ReviewRule.objects.order_by("priority", "id"), many=True).data)

    @extend_schema(tags=["review rules"], summary="Add a review rule", request=ReviewRuleSerializer,
                   responses={201: ReviewRuleSerializer, 400: INVALID, 401: FORBIDDEN, 403: FORBIDDEN})
    def post(self, request: Request) -> Response:
        data = ReviewRuleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule = rules.review_rule_create(actor=request.user, **data.validated_data)
        return Response(ReviewRuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class ReviewRuleDetailApi(RuleApi):
    method_permissions = {"GET": permissions.RULE_VIEW, "PUT": permissions.RULE_CHANGE,
                          "PATCH": permissions.RULE_CHANGE, "DELETE": permissions.RULE_DELETE}

    @extend_schema(tags=["review rules"], summary="A review rule",
                   responses={200: ReviewRuleSerializer, 401: FORBIDDEN, 403: FORBIDDEN})
    def get(self, request: Request, rule_id: int) -> Response:
        return Response(ReviewRuleSerializer(get_object_or_404(ReviewRule, pk=rule_id)).data)

    def _change(self, request: Request, rule_id: int, *, partial: bool) -> Response:
        rule = get_object_or_404(ReviewRule, pk=rule_id)
        data = ReviewRuleSerializer(rule, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        rule = rules.review_rule_update(rule=rule, actor=request.user, **data.validated_data)
        return Response(ReviewRuleSerializer(rule).data)

    @extend_schema(tags=["review rules"], summary="Replace a review rule", request=ReviewRuleSerializer,
                   responses={200: ReviewRuleSerializer, 400: INVALID, 401: FORBIDDEN, 403: FORBIDDEN})
    def put(self, request: Request, rule_id: int) -> Response:
        return self._change(request, rule_id, partial=False)

    @extend_schema(tags=["review rules"], summary="Change a review rule", request=ReviewRuleSerializer,
                   responses={200: ReviewRuleSerializer, 400: INVALID, 401: FORBIDDEN, 403: FORBIDDEN})
    def patch(self, request: Request, rule_id: int) -> Response:
        return self._change(request, rule_id, partial=True)

    @extend_schema(tags=["review rules"], summary="Delete a review rule",
                   responses={204: None, 401: FORBIDDEN, 403: FORBIDDEN})
    def delete(self, request: Request, rule_id: int) -> Response:
        rules.review_rule_delete(rule=get_object_or_404(ReviewRule, pk=rule_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReviewRuleBacktestApi(RuleApi):
    method_permissions = {"POST": permissions.RULE_VIEW}

    @extend_schema(tags=["review rules"], summary="Try a rule that is not saved on recent orders",
                   request=BacktestInput, responses={200: BacktestOutput, 400: INVALID, 401: FORBIDDEN,
                                                     403: FORBIDDEN})
    def post(self, request: Request) -> Response:
        """Which of the last `last` orders the rule would have held or rejected, and why (the
        condition with each order's values). Nothing is saved. Needs orders.view_order as well."""
        # It shows other customers' orders: the reader must be one who may see them.
        permissions.require(request.user, permissions.ORDER_VIEW, doing="try rules on other customers' orders")
        data = BacktestInput(data=request.data)
        data.is_valid(raise_exception=True)
        rule = ReviewRule(**data.validated_data["rule"])
        return Response(BacktestOutput(review_rule_backtest(rule=rule, last=data.validated_data["last"])).data)
