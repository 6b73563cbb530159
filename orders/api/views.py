"""/api/orders: thin views over the order services and selectors."""
import logging

from django.db import DatabaseError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders import selectors, services
from orders.api.filters import order_list_query
from orders.api.serializers import (
    CustomerCancelInput,
    OrderCreateInput,
    OrderDetailOutput,
    OrderOutput,
    RefundInput,
    ShippingOptionsOutput,
    ShippingRatesInput,
    StaffDecisionInput,
    StaffNoteInput,
    StaffNoteOutput,
    order_detail_data,
)
from orders.models import Order
from orders.services.payment_reconcile import payment_reconcile
from orders.services.reorder import payment_link_send
from orders.shipping import ShippingAddress, shipping_options
from orders.states import TRANSITIONS, OrderState, meaning
from store import permissions
from store.api.pagination import HeaderPagination
from store.errors import ValidationFailed
from store.permissions import StaffPermission

logger = logging.getLogger("orders.api")

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Replaying a key returns the first order; the same key with another body is a 422.",
)
REFUND_IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Replaying a key on the order returns it as after the first refund, which is paid once; "
    "the same key with another amount or reason is a 422.",
)


ORDER_LIST_PARAMETERS = [
    OpenApiParameter(
        "customer", OpenApiTypes.STR,
        description="Staff: orders of one customer, by e-mail address (exact, case-insensitive) or user id "
        "(digits). A customer's own list is only narrowed: naming someone else gives no orders.",
        examples=[OpenApiExample("e-mail", value="casey@example.com"), OpenApiExample("user id", value="42")],
    ),
    OpenApiParameter(
        "state", OpenApiTypes.STR, many=True, explode=True, enum=OrderState.values,
        description="Orders in any of these states: repeat the parameter (?state=paid&state=shipped) or separate "
        "them with commas (?state=paid,shipped). An unknown state is a 400.",
    ),
    OpenApiParameter("createdFrom", OpenApiTypes.DATE,
                     description="Placed on or after this day (YYYY-MM-DD, inclusive; days in the shop's time zone, "
                     "settings.TIME_ZONE, UTC by default). Another format is a 400."),
    OpenApiParameter("createdTo", OpenApiTypes.DATE,
                     description="Placed on or before this day (YYYY-MM-DD, inclusive, in the shop's time zone); "
                     "not before createdFrom."),
    OpenApiParameter("page", OpenApiTypes.INT, description="Page number, from 1 (ASCII digits)."),
    OpenApiParameter("pageSize", OpenApiTypes.INT, description="Orders per page, at most 100 (ASCII digits)."),
]


def _idempotency_key(request: Request) -> str:
    """The request's Idempotency-Key header ("" without one); at most 128 characters, not blank
    (a blank key would silently protect nothing)."""
    if "Idempotency-Key" in request.headers and not request.headers["Idempotency-Key"].strip():
        raise ValidationFailed("Idempotency-Key is blank.", fields={"Idempotency-Key": "Not blank."})
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 128:
        raise ValidationFailed("Idempotency-Key is too long (128 characters at most).",
                               fields={"Idempotency-Key": "At most 128 characters."})
    return key


def _detail(request: Request, order_id: int, *, status_code: int = status.HTTP_200_OK) -> Response:
    order = selectors.order_get(user=request.user, order_id=order_id)
    return Response(order_detail_data(order, user=request.user), status=status_code)


def _committed(request: Request, order: Order, *, status_code: int = status.HTTP_200_OK) -> Response:
    """The answer to a write that committed: the order as it is now, read back.

    The write stands whatever happens next, so a failed read-back (the database went away
    right after the commit) still answers `status_code`, with the order's id and number and
    where to read it: a client that retried on an error could place it twice."""
    try:
        return _detail(request, order.pk, status_code=status_code)
    except DatabaseError:
        logger.warning("order %s committed but could not be read back", order.pk, exc_info=True,
                       extra={"order_id": order.pk})
        return Response({"id": order.pk, "number": order.number, "detail": "Done. The order could not be read back "
                         f"just now; GET /api/orders/{order.pk} shows it."}, status=status_code)


class OrderListCreateApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="orders_list",
        parameters=ORDER_LIST_PARAMETERS,
        responses=OrderOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        """The caller's own orders, newest first; staff with orders.view_order see every customer's.

        Filters (all optional, combined with AND): `customer`, `state` (several: repeat it or
        separate with commas), `createdFrom`, `createdTo`. They only narrow what the caller may
        see. Any other query parameter, or a bad or empty value, is a 400 naming the parameter.
        """
        query = order_list_query(request.query_params)
        orders = selectors.order_list(user=request.user, states=query.states, customer=query.customer,
                                      created_from=query.created_from, created_to=query.created_to)
        paginator = HeaderPagination()
        page = paginator.paginate_queryset(orders, request, view=self)
        return paginator.get_paginated_response(OrderOutput(page, many=True).data)

    @extend_schema(
        operation_id="orders_create",
        request=OrderCreateInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: OrderDetailOutput, 200: OrderDetailOutput},
    )
    def post(self, request: Request) -> Response:
        payload = OrderCreateInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        key = _idempotency_key(request)
        result = services.order_place(
            user=request.user,
            lines=[services.LineRequest(item["productId"], item["quantity"]) for item in data["items"]],
            shipping=services.ShippingAddress(**{name: value for name, value in data["shipping"].items()
                                                 if name != "rate"}),
            card_number=data.get("payment", {}).get("card"),
            idempotency_key=key,
            expected_total=data.get("expectedTotal"),
            shipping_rate=data["shipping"].get("rate"),
        )
        return _committed(request, result.order,
                          status_code=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class ShippingRatesApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="shipping_rates", request=ShippingRatesInput, responses=ShippingOptionsOutput)
    def post(self, request: Request) -> Response:
        """The shipping options for a cart to an address (`items` and `shipping` as for an order),
        standard first, each with its price, delivery window and the `id` to send as the order's
        `shipping.rate`. When the carrier cannot quote, `degraded` is true: standard is priced
        from the rate card and express is unavailable. 400 for bad input or an address no zone
        ships to. Writes nothing."""
        payload = ShippingRatesInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        lines: dict[str, int] = {}
        for item in data["items"]:
            lines[item["productId"]] = lines.get(item["productId"], 0) + item["quantity"]
        options = shipping_options(shipping=ShippingAddress(**data["shipping"]), lines=lines)
        return Response(ShippingOptionsOutput(options).data)


class OrderDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="orders_retrieve", responses=OrderDetailOutput)
    def get(self, request: Request, order_id: int) -> Response:
        return _detail(request, order_id)


# POST /api/orders/{id}/<action>: people's action on an order, as the transitions declaring that
# action say (orders.meaning): who may (`permission=`: staff holding a permission, or the owner
# too), what a refusal names (`doing`) and whether it takes words (`confirm`: staff's `note` and
# `customerMessage`, or the owner's `reason`). Answers with the order. `action_view` makes one
# subclass per action (the schema's operation); `ACTION_VIEWS` holds them, and the URLs are made
# from it. Refund, with its body and Idempotency-Key, has a view of its own. (No docstring here:
# drf-spectacular would make it every action's description.)
class OrderActionApi(APIView):
    action = ""
    owner_may = False  # the declared permission is OwnerOr: the owner acts too
    staff_action: permissions.StaffAction | None = None
    doing = ""
    takes_words = False

    def post(self, request: Request, order_id: int) -> Response:
        order = selectors.order_get(user=request.user, order_id=order_id)
        if self.owner_may:
            permissions.require(request.user, self.staff_action, owner_id=order.owner_id, doing=self.doing)
        words = {}
        if self.takes_words and self.owner_may and order.owner_id == request.user.pk:
            payload = CustomerCancelInput(data=request.data or {})
            payload.is_valid(raise_exception=True)
            words = {"customer_message": payload.validated_data.get("reason", "")}
        elif self.takes_words:
            payload = StaffDecisionInput(data=request.data or {})
            payload.is_valid(raise_exception=True)
            words = {"customer_message": payload.validated_data.get("customerMessage", ""),
                     "note": payload.validated_data.get("note", "")}
        return _committed(request, services.order_action(order=order, action=self.action, actor=request.user,
                                                         **words))


def action_view(action: str) -> type[OrderActionApi]:
    """The view of people's action `action`, from the transitions that declare it (they agree on
    who may fire it, what a refusal names and whether it takes words)."""
    declared = [TRANSITIONS[name] for name in TRANSITIONS if meaning(name).action == action]
    said = meaning(declared[0].name)
    permission = declared[0].permission
    owner_may = isinstance(permission, permissions.OwnerOr)
    staff_action = permission.action if owner_may else permission
    request_body = None
    description = None
    if said.confirm and owner_may:
        request_body = PolymorphicProxySerializer(
            component_name=f"Order{action.capitalize()}Input", resource_type_field_name=None,
            serializers=[CustomerCancelInput, StaffDecisionInput])
        verb = said.label.split()[0].lower()
        description = (f"The owner {verb}s their own order (with an optional `reason`); another customer's needs "
                       f"{staff_action.permission} and takes a staff `note` and an optional `customerMessage`.")
    elif said.confirm:
        request_body = StaffDecisionInput
    if owner_may:
        permission_classes = [IsAuthenticated]
    else:
        permission_classes = [StaffPermission(staff_action, doing=said.doing), StaffPermission(permissions.ORDER_VIEW)]
    view = type(f"Order{action.capitalize()}Api", (OrderActionApi,), {
        "action": action, "owner_may": owner_may, "staff_action": staff_action, "doing": said.doing,
        "takes_words": said.confirm, "permission_classes": permission_classes,
        "__module__": __name__,
    })

    # A function of its own per action: extend_schema annotates the function it decorates.
    def post(self, request: Request, order_id: int) -> Response:
        return OrderActionApi.post(self, request, order_id)

    view.post = extend_schema(operation_id=f"orders_{action}", request=request_body, responses=OrderDetailOutput,
                              description=description)(post)
    return view


class OrderPaymentLinkApi(APIView):
    """E-mail the owner of an order whose payment failed a link to pay it again (docs/operations.md:
    When an order fails); 409 for any other order."""

    permission_classes = [StaffPermission(permissions.ORDER_CHANGE, doing="send payment links"),
                          StaffPermission(permissions.ORDER_VIEW)]

    @extend_schema(operation_id="orders_payment_link", request=None, responses=OrderDetailOutput)
    def post(self, request: Request, order_id: int) -> Response:
        order = selectors.order_get(user=request.user, order_id=order_id)
        payment_link_send(order=order, actor=request.user)
        return _committed(request, order)


class OrderReconcileApi(APIView):
    """Ask the payment provider about the charge a paying order waits for and settle the order by
    its answer (orders.services.payment_reconcile), as "Check with the provider" in the admin."""

    permission_classes = [StaffPermission(permissions.ORDER_CHANGE, doing="check orders' payments with the provider"),
                          StaffPermission(permissions.ORDER_VIEW)]

    @extend_schema(
        operation_id="orders_reconcile", request=None, responses={200: OpenApiTypes.OBJECT},
        description='200 {"found": "approved" | "declined" | "pending" | "unknown" | "unreachable" | "nothing", '
                    '"transition": the transition fired or "", "state": the order\'s state after it, "detail": a '
                    "sentence}. Nothing changes unless the provider answered approved or declined.",
    )
    def post(self, request: Request, order_id: int) -> Response:
        order = selectors.order_get(user=request.user, order_id=order_id)
        found = payment_reconcile(order_id=order.pk, asked_by=request.user.email)
        return Response({"found": found.found, "transition": found.transition, "state": found.state,
                         "detail": found.message})


class OrderRefundApi(APIView):
    permission_classes = [StaffPermission(permissions.ORDER_REFUND), StaffPermission(permissions.ORDER_VIEW)]

    @extend_schema(operation_id="orders_refund", request=RefundInput, parameters=[REFUND_IDEMPOTENCY_KEY],
                   responses=OrderDetailOutput)
    def post(self, request: Request, order_id: int) -> Response:
        order = selectors.order_get(user=request.user, order_id=order_id)
        payload = RefundInput(data=request.data)
        payload.is_valid(raise_exception=True)
        services.refund_create(
            order=order,
            amount=payload.validated_data.get("amount"),
            reason=payload.validated_data["reason"],
            actor=request.user,
            idempotency_key=_idempotency_key(request),
            lines=[services.RefundLineRequest(line["lineId"], line["quantity"])
                   for line in payload.validated_data.get("lines", ())],
            restock=payload.validated_data["restock"],
            shipping=payload.validated_data["shipping"],
        )
        return _committed(request, order)


class OrderNotesApi(APIView):
    """Staff's internal notes on an order: never part of what the customer reads."""

    permission_classes = [StaffPermission(permissions.ORDER_VIEW)]

    @extend_schema(operation_id="orders_notes_list", responses=StaffNoteOutput(many=True))
    def get(self, request: Request, order_id: int) -> Response:
        """The order's notes, newest first: those written on it and those given with a reject or cancel."""
        order = selectors.order_get(user=request.user, order_id=order_id)
        return Response(StaffNoteOutput(selectors.order_staff_notes(order=order), many=True).data)

    @extend_schema(operation_id="orders_notes_create", request=StaffNoteInput, responses={201: StaffNoteOutput})
    def post(self, request: Request, order_id: int) -> Response:
        """Add a note (orders.add_staffnote); nothing is published, notified or e-mailed."""
        permissions.require(request.user, permissions.NOTE_ADD)
        order = selectors.order_get(user=request.user, order_id=order_id)
        payload = StaffNoteInput(data=request.data)
        payload.is_valid(raise_exception=True)
        note = services.staff_note_add(author=request.user, text=payload.validated_data["text"], order=order)
        return Response(StaffNoteOutput(selectors.staff_note_entry(note)).data, status=status.HTTP_201_CREATED)


# One view per action people take on an order (each declared on its transitions), but refund's.
ACTION_VIEWS: dict[str, type[APIView]] = {
    action: action_view(action)
    for action in dict.fromkeys(meaning(name).action for name in TRANSITIONS if meaning(name).action)
    if action != "refund"
}
ACTION_VIEWS["refund"] = OrderRefundApi
