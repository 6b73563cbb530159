"""docs/permissions.md's permission table, run as it stands: every staff operation on every surface, as a
customer, a staff user with no permissions, a "Shop staff" member and a superuser.

Each row names an operation on another customer's order (or on a product); a cell is the
status the account gets, plus what it sees ("own"/"all" orders, the dashboard's "figures")
or where a redirect goes ("login"). Whether the change happened is checked too: a success
must change the order or product, a refusal must leave it as it was.
"""
import re
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.test import Client

from catalog.models import Product
from orders.models import Order, OrderEvent, PaymentLink, StaffNote
from orders.services import order_transition
from providers import breakers
from providers.models import ShippingZone
from tests.conftest import BASE_DIR
from tests.payment_events import CARD_PENDING, bank_answered
from tests.refund_pages import refund_previewed_and_confirmed
from tests.workflow_versions import workflow_form_data
from webhooks.models import WebhookEndpoint
from workflows.models import Hold, ReviewRule, WorkflowVersion
from workflows.policy.selectors import policy_current
from workflows.policy.services import version_draft_create

ACTORS = ("customer", "staff, no permissions", "Shop staff", "superuser")
# The admin's confirmation page posts this for reject and cancel; without it they only ask.
CONFIRMED = {"post": "yes", "note": "Checked with the customer"}


def documented_table() -> list[dict[str, str]]:
    text = (BASE_DIR / "docs" / "permissions.md").read_text()
    block = text.split("<!-- permission-table -->")[1].split("<!-- /permission-table -->")[0]
    lines = [line for line in block.strip().splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True)) for line in lines[2:]]


ROWS = documented_table()


@dataclass
class Outcome:
    status: int
    changed: bool  # the operation's effect is there (state moved, product changed, …)
    sees: str = ""  # "own" / "all" orders, "figures" / "no figures", "login" for a redirect to sign in


@pytest.fixture
def accounts(make_user, shop_staff):
    """The four kinds of account; the customer is not the owner of the orders acted on."""
    return {
        "customer": make_user("stranger@example.com", name="Stan Stranger"),
        "staff, no permissions": make_user("bare-staff@example.com", name="Bea Bare", is_staff=True),
        "Shop staff": shop_staff,
        "superuser": make_user("root@example.com", name="Ruth Root", is_staff=True, is_superuser=True),
    }


def _web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _admin_outcome(response, changed: bool) -> Outcome:
    login = response.status_code == 302 and "/admin/login/" in response["Location"]
    return Outcome(response.status_code, changed, "login" if login else "")


def run(row_id: str, user, ctx) -> Outcome:  # noqa: C901 - one branch per row of the table
    order_in, customer, jwt_client = ctx["order_in"], ctx["owner"], ctx["jwt_client"]
    product = Product.objects.get(public_id="prod-003")

    def order(state: str) -> Order:
        return order_in(state, user=customer)

    def state_of(o: Order) -> str:
        return Order.objects.get(pk=o.pk).state

    if row_id == "api-order-list":
        mine, theirs = order_in("new", user=user), order("new")
        response = jwt_client(user).get("/api/orders")
        ids = {item["id"] for item in response.json()} if response.status_code == 200 else set()
        assert mine.pk in ids
        return Outcome(response.status_code, False, "all" if theirs.pk in ids else "own")
    if row_id == "api-order-read":
        o = order("paid")
        return Outcome(jwt_client(user).get(f"/api/orders/{o.pk}").status_code, False)
    if row_id == "page-order-read":
        o = order("paid")
        return Outcome(_web(user).get(f"/orders/{o.pk}/").status_code, False)
    if row_id in ("api-order-cancel", "page-order-cancel", "admin-order-cancel"):
        o = order("new")
        if row_id == "api-order-cancel":
            response = jwt_client(user).post(f"/api/orders/{o.pk}/cancel", {}, format="json")
        elif row_id == "page-order-cancel":
            response = _web(user).post(f"/orders/{o.pk}/cancel/")
        else:
            response = _web(user).post(f"/admin/orders/order/{o.pk}/actions/cancel/", CONFIRMED)
        changed = state_of(o) == "cancelled"
        return _admin_outcome(response, changed) if row_id.startswith("admin") else Outcome(response.status_code, changed)
    if row_id in ("api-order-retry", "admin-order-retry"):
        o = order("payment_failed")
        if row_id.startswith("api"):
            response = jwt_client(user).post(f"/api/orders/{o.pk}/retry", {}, format="json")
            return Outcome(response.status_code, state_of(o) == "paying")
        return _admin_outcome(_web(user).post(f"/admin/orders/order/{o.pk}/actions/retry_payment/"),
                              state_of(o) == "paying")
    if row_id in ("api-order-redrive", "admin-order-redrive"):
        o = order_transition(order_id=order("validating").pk, name="provider_unavailable",
                             reason="Inventory provider timed out")  # stalled in its inventory check
        if row_id.startswith("api"):
            response = jwt_client(user).post(f"/api/orders/{o.pk}/redrive", {}, format="json")
            return Outcome(response.status_code, state_of(o) == "validating")
        return _admin_outcome(_web(user).post(f"/admin/orders/order/{o.pk}/actions/redrive_inventory/"),
                              state_of(o) == "validating")
    if row_id in ("api-order-payment-link", "admin-order-payment-link"):
        o = order_transition(order_id=order("payment_failed").pk, name="abandon_payment")
        if row_id.startswith("api"):
            response = jwt_client(user).post(f"/api/orders/{o.pk}/payment-link", {}, format="json")
            return Outcome(response.status_code, PaymentLink.objects.filter(order=o).exists())
        response = _web(user).post(f"/admin/orders/order/{o.pk}/payment-link/")
        return _admin_outcome(response, PaymentLink.objects.filter(order=o).exists())
    if row_id in ("api-order-reconcile", "admin-order-reconcile"):
        # A real pending 3-D Secure charge the simulated bank has approved: the check pays the order.
        fixture = ctx["request"].getfixturevalue
        fixture("settings").PIPELINE_TASKS_SYNC = True
        with fixture("django_capture_on_commit_callbacks")(execute=True):
            o = fixture("place_order")(customer, card=CARD_PENDING)
        assert state_of(o) == "paying"
        bank_answered(o.pk)
        if row_id.startswith("api"):
            response = jwt_client(user).post(f"/api/orders/{o.pk}/reconcile", {}, format="json")
            return Outcome(response.status_code, state_of(o) != "paying")
        return _admin_outcome(_web(user).post(f"/admin/orders/order/{o.pk}/reconcile/"), state_of(o) != "paying")
    if row_id == "admin-order-dismiss":
        o = order_transition(order_id=order("payment_failed").pk, name="abandon_payment")
        response = _web(user).post(f"/admin/orders/order/{o.pk}/dismiss/")
        return _admin_outcome(response, OrderEvent.objects.filter(order=o, detail__has_key="dismissed").exists())
    if row_id == "admin-order-address":
        o = order("paid")
        response = _web(user).post(f"/admin/orders/order/{o.pk}/address/",
                                   {"address": "2 Side Street", "city": "Springfield", "state": "IL", "zip": "62702"})
        return _admin_outcome(response, Order.objects.get(pk=o.pk).ship_zip == "62702")
    if row_id == "admin-circuit-close":
        for _ in range(policy_current().step("payment").failures):
            breakers.failed("payment", "timeout")
        response = _web(user).post("/admin/orders/order/circuits/payment/close/")
        return _admin_outcome(response, breakers.circuit("payment", fresh=True).state == breakers.CLOSED)
    if row_id in ("api-order-approve", "api-order-reject", "admin-order-approve", "admin-order-reject"):
        o = order("awaiting_approval")
        verb = row_id.rsplit("-", 1)[1]
        target = "paying" if verb == "approve" else "cancelled"
        if row_id.startswith("api"):
            response = jwt_client(user).post(f"/api/orders/{o.pk}/{verb}", {}, format="json")
            return Outcome(response.status_code, state_of(o) == target)
        body = CONFIRMED if verb == "reject" else {}
        return _admin_outcome(_web(user).post(f"/admin/orders/order/{o.pk}/actions/{verb}/", body),
                              state_of(o) == target)
    if row_id in ("api-order-refund", "admin-order-refund"):
        o = order("delivered")
        if row_id.startswith("api"):
            response = jwt_client(user).post(f"/api/orders/{o.pk}/refund", {"amount": "1.00", "reason": "Dented"},
                                                   format="json")
        else:
            response = refund_previewed_and_confirmed(
                _web(user), f"/admin/orders/order/{o.pk}/refund/",
                {"amount": "1.00", "reason": "Dented", "idempotency_key": "permission-table"}, follow=False)
        changed = Order.objects.get(pk=o.pk).refunded_amount == Decimal("1.00")
        return _admin_outcome(response, changed) if row_id.startswith("admin") else Outcome(response.status_code, changed)
    if row_id in ("api-order-note", "api-order-notes-read"):
        o = order("paid")
        if row_id == "api-order-notes-read":
            return Outcome(jwt_client(user).get(f"/api/orders/{o.pk}/notes").status_code, False)
        response = jwt_client(user).post(f"/api/orders/{o.pk}/notes", {"text": "Prefers deliveries after 5pm"},
                                         format="json")
        return Outcome(response.status_code, StaffNote.objects.filter(order=o).exists())
    if row_id == "admin-hold-assign":
        held = order("awaiting_approval")
        response = _web(user).post("/admin/orders/orderawaitingapproval/",
                                   {"action": "assign_to_me", "_selected_action": [held.pk], "index": 0})
        return _admin_outcome(response, Hold.objects.filter(order=held, assignee=user).exists())
    if row_id.startswith(("api-rule-", "admin-rule-")):
        return _rule_outcome(row_id, user, jwt_client)
    if row_id.startswith(("api-workflow-", "admin-workflow-")):
        return _workflow_outcome(row_id, user, jwt_client)
    if row_id in ("api-webhook-add", "admin-webhook-add"):
        url = "https://erp.example/hooks"
        if row_id.startswith("api"):
            response = jwt_client(user).post("/api/webhooks", {"url": url, "events": ["*"]}, format="json")
            return Outcome(response.status_code, WebhookEndpoint.objects.filter(url=url).exists())
        response = _web(user).post("/admin/webhooks/webhookendpoint/add/", {"url": url, "events": ["*"],
                                                                             "enabled": "on"})
        return _admin_outcome(response, WebhookEndpoint.objects.filter(url=url).exists())
    if row_id == "api-product-add":
        response = jwt_client(user).post(
            "/api/products", {"name": "Desk Lamp", "price": "39.00", "category": "Electronics", "stock": 5}, format="json"
        )
        return Outcome(response.status_code, Product.objects.filter(name="Desk Lamp").exists())
    if row_id == "api-product-change":
        response = jwt_client(user).patch(f"/api/products/{product.public_id}", {"price": "12.34"}, format="json")
        return Outcome(response.status_code, Product.objects.get(pk=product.pk).price == Decimal("12.34"))
    if row_id == "api-product-withdraw":
        response = jwt_client(user).delete(f"/api/products/{product.public_id}")
        return Outcome(response.status_code, not Product.objects.get(pk=product.pk).is_active)
    if row_id == "admin-dashboard":
        response = _web(user).get("/admin/")
        if response.status_code == 302:
            return _admin_outcome(response, False)
        figures = 'data-metric="orders-today"' in response.content.decode()
        return Outcome(response.status_code, False, "figures" if figures else "no figures")
    if row_id == "admin-order-list":
        order("new")
        return _admin_outcome(_web(user).get("/admin/orders/order/"), False)
    if row_id == "admin-customer-read":
        order("paid")
        return _admin_outcome(_web(user).get(f"/admin/orders/customer/{customer.pk}/change/"), False)
    if row_id in ("admin-order-note", "admin-customer-note"):
        o = order("paid")
        target = f"order/{o.pk}" if row_id == "admin-order-note" else f"customer/{customer.pk}"
        response = _web(user).post(f"/admin/orders/{target}/notes/", {"text": "Prefers deliveries after 5pm"})
        return _admin_outcome(response, StaffNote.objects.filter(text="Prefers deliveries after 5pm").exists())
    if row_id == "admin-order-read":
        o = order("paid")
        return _admin_outcome(_web(user).get(f"/admin/orders/order/{o.pk}/change/"), False)
    if row_id in ("api-order-trace-read", "admin-order-trace-read"):
        o = order("paid")
        if row_id.startswith("api"):
            return Outcome(jwt_client(user).get(f"/api/orders/{o.pk}/trace").status_code, False)
        return _admin_outcome(_web(user).get(f"/admin/orders/order/{o.pk}/trace/"), False)
    if row_id in {"admin-order-export", "admin-order-report", "admin-order-attention"}:
        order("paid")
        page = {"admin-order-export": "export", "admin-order-report": "report", "admin-order-attention": "attention"}
        return _admin_outcome(_web(user).get(f"/admin/orders/order/{page[row_id]}/"), False)
    if row_id == "admin-product-add":
        form = {"public_id": "prod-900", "name": "Desk Lamp", "category": product.category_id, "description": "",
                "image": "", "price": "39.00", "stock": "5", "initial-stock": "0", "weight_grams": "900",
                "is_active": "on"}
        response = _web(user).post("/admin/catalog/product/add/", form)
        return _admin_outcome(response, Product.objects.filter(public_id="prod-900").exists())
    if row_id == "admin-product-change":
        form = {"public_id": product.public_id, "name": product.name, "category": product.category_id,
                "description": product.description, "image": product.image, "price": "12.34",
                "stock": str(product.stock), "initial-stock": str(product.stock),
                "weight_grams": str(product.weight_grams), "is_active": "on"}
        response = _web(user).post(f"/admin/catalog/product/{product.pk}/change/", form)
        return _admin_outcome(response, Product.objects.get(pk=product.pk).price == Decimal("12.34"))
    if row_id == "admin-product-withdraw":
        response = _web(user).post("/admin/catalog/product/", {
            "action": "deactivate_selected", "_selected_action": [product.pk], "index": 0,
        })
        return _admin_outcome(response, not Product.objects.get(pk=product.pk).is_active)
    if row_id == "admin-shipping-zone-list":
        return _admin_outcome(_web(user).get("/admin/providers/shippingzone/"), False)
    if row_id == "admin-shipping-zone-add":
        form = {"name": "Midwest", "destinations-TOTAL_FORMS": "1", "destinations-INITIAL_FORMS": "0",
                "destinations-0-state": "IL", "rates-TOTAL_FORMS": "1", "rates-INITIAL_FORMS": "0",
                "rates-0-service": "standard", "rates-0-base_cost": "7.99", "rates-0-cost_per_kg": "1.10",
                "rates-0-days_min": "2", "rates-0-days_max": "4"}
        response = _web(user).post("/admin/providers/shippingzone/add/", form)
        return _admin_outcome(response, ShippingZone.objects.filter(name="Midwest").exists())
    raise AssertionError(f"docs/permissions.md's permission table has a row this test does not know: {row_id}")


RULE = {"name": "Big orders", "reason": "Over $1,000", "condition": {"all": [{"fact": "total", "op": "gte",
                                                                           "value": "1000.00"}]}}


def _rule_outcome(row_id: str, user, jwt_client) -> Outcome:
    rule = ReviewRule.objects.create(**RULE)
    if row_id == "api-rule-list":
        return Outcome(jwt_client(user).get("/api/review-rules").status_code, False)
    if row_id == "api-rule-backtest-read":
        response = jwt_client(user).post("/api/review-rules/backtest", {"rule": RULE}, format="json")
        return Outcome(response.status_code, False)
    if row_id == "api-rule-add":
        response = jwt_client(user).post("/api/review-rules", {**RULE, "name": "Bulk"}, format="json")
        return Outcome(response.status_code, ReviewRule.objects.filter(name="Bulk").exists())
    if row_id == "api-rule-change":
        response = jwt_client(user).patch(f"/api/review-rules/{rule.pk}", {"enabled": False}, format="json")
        return Outcome(response.status_code, not ReviewRule.objects.get(pk=rule.pk).enabled)
    if row_id == "api-rule-delete":
        response = jwt_client(user).delete(f"/api/review-rules/{rule.pk}")
        return Outcome(response.status_code, not ReviewRule.objects.filter(pk=rule.pk).exists())
    if row_id == "admin-rule-add":
        form = {"name": "Bulk", "priority": "100", "enabled": "on", "action": "hold", "reason": "Many items",
                "match": "all", "c0_fact": "item_count", "c0_op": "gte", "c0_value": "20"}
        response = _web(user).post("/admin/workflows/reviewrule/add/", form)
        return _admin_outcome(response, ReviewRule.objects.filter(name="Bulk").exists())
    raise AssertionError(f"no rule row {row_id}")


def _workflow_outcome(row_id: str, user, jwt_client) -> Outcome:
    draft = version_draft_create(actor=None, note="Fewer charge attempts")
    if row_id == "api-workflow-read":
        return Outcome(jwt_client(user).get("/api/workflow").status_code, False)
    if row_id == "api-workflow-draft":
        response = jwt_client(user).post("/api/workflow/versions", {"note": "Shorter holds", "holds": {"hours": 12}},
                                         format="json")
        return Outcome(response.status_code, WorkflowVersion.objects.filter(note="Shorter holds").exists())
    if row_id == "api-workflow-change":
        response = jwt_client(user).patch(f"/api/workflow/versions/{draft.pk}",
                                          {"steps": {"payment": {"attempts": 1}}}, format="json")
        return Outcome(response.status_code, WorkflowVersion.objects.get(pk=draft.pk).policy["steps"]["payment"]
                       ["attempts"] == 1)
    if row_id == "api-workflow-dry-run":
        response = jwt_client(user).post(f"/api/workflow/versions/{draft.pk}/dry-run")  # runs at once (sync tasks)
        return Outcome(response.status_code, WorkflowVersion.objects.get(pk=draft.pk).dry_run is not None)
    if row_id == "api-workflow-publish":
        response = jwt_client(user).post(f"/api/workflow/versions/{draft.pk}/publish")
        return Outcome(response.status_code, WorkflowVersion.objects.get(pk=draft.pk).published)
    form = {**workflow_form_data(draft.policy), "note": "Changed in the admin"}
    if row_id == "admin-workflow-publish":
        form["_publish"] = "Save and publish"
    response = _web(user).post(f"/admin/workflows/workflowversion/{draft.pk}/change/", form)
    saved = WorkflowVersion.objects.get(pk=draft.pk)
    return _admin_outcome(response, saved.published if row_id == "admin-workflow-publish"
                          else saved.note == "Changed in the admin")


def parse(cell: str) -> tuple[int, str]:
    match = re.fullmatch(r"(\d{3})(?: (.+))?", cell)
    assert match, f"not a status cell: {cell!r}"
    return int(match.group(1)), match.group(2) or ""


def test_the_table_covers_every_staff_action_on_every_surface():
    from store import permissions

    needed = {row["permission"].strip("`") for row in ROWS}
    assert needed == {action.permission for action in permissions.STAFF_ACTIONS} - {"catalog.view_product"}
    surfaces = {row["surface: request"].split(":")[0] for row in ROWS}
    assert surfaces == {"API", "storefront", "admin"}


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
@pytest.mark.parametrize("actor", ACTORS)
def test_each_account_gets_what_the_permissions_page_says(row, actor, accounts, order_in, customer, jwt_client,
                                                          catalog, request):
    expected_status, expected_sees = parse(row[actor])

    outcome = run(row["id"], accounts[actor],
                  {"order_in": order_in, "owner": customer, "jwt_client": jwt_client, "request": request})

    assert (outcome.status, outcome.sees) == (expected_status, expected_sees)
    succeeded = expected_status in (200, 201, 202, 204) or (expected_status == 302 and expected_sees != "login")
    read_only = row["id"].endswith(("-list", "-read", "dashboard", "-export", "-report", "-attention"))
    if not read_only:
        assert outcome.changed == succeeded, f"{row['id']} as {actor}: changed={outcome.changed}"


def test_refusals_say_which_permission_is_missing(accounts, order_in, customer, jwt_client):
    held = order_in("awaiting_approval", user=customer)

    response = jwt_client(accounts["staff, no permissions"]).post(f"/api/orders/{held.pk}/approve", {}, format="json")

    assert response.status_code == 403
    assert response.json() == {"error": "You do not have permission to approve or reject held orders.",
                               "code": "permission_denied"}
    assert Order.objects.get(pk=held.pk).state == "awaiting_approval"


@pytest.mark.parametrize(("action", "state", "doing"), [
    ("retry", "payment_failed", "retry orders"),
    ("redrive", "stalled", "re-drive orders"),
    ("payment-link", "payment_failed", "send payment links"),
    ("reconcile", "paying", "check orders' payments with the provider"),
])
def test_a_refusal_names_the_action_refused_even_on_ones_own_order(action, state, doing, order_in, customer,
                                                                   jwt_client):
    order = order_in(state, user=customer)

    response = jwt_client(customer).post(f"/api/orders/{order.pk}/{action}", {}, format="json")

    assert response.status_code == 403
    assert response.json() == {"error": f"You do not have permission to {doing}.", "code": "permission_denied"}
    assert Order.objects.get(pk=order.pk).state == state


# --- staff who hold one permission: the same answer everywhere, and no action without an answer ---

def one_permission_staff(make_user, codename: str, app: str = "orders"):
    from django.contrib.auth.models import Permission

    user = make_user(f"only-{codename}@example.com", is_staff=True)
    user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    return user


@pytest.mark.parametrize(("codename", "state", "api", "admin_path", "body"), [
    ("change_order", "new", "cancel", "actions/cancel/", CONFIRMED),
    ("change_order", "payment_failed", "retry", "actions/retry_payment/", {}),
    ("approve_order", "awaiting_approval", "approve", "actions/approve/", {}),
    ("approve_order", "awaiting_approval", "reject", "actions/reject/", CONFIRMED),
    ("refund_order", "delivered", "refund", "refund/", {"amount": "1.00", "reason": "Dented", "idempotency_key": "k"}),
])
def test_acting_on_an_order_one_may_not_see_is_refused_before_anything_moves(
    codename, state, api, admin_path, body, make_user, order_in, customer, jwt_client
):
    """A staff action on an order needs orders.view_order besides its own permission: without it
    the staff endpoints and the admin answer 403 (cancel, which customers use too, 404: the
    order does not exist for the account), and the order (and the money) stay put."""
    staff = one_permission_staff(make_user, codename)
    order = order_in(state, user=customer)

    answers = [jwt_client(staff).post(f"/api/orders/{order.pk}/{api}", body, format="json").status_code,
               _web(staff).post(f"/admin/orders/order/{order.pk}/{admin_path}", body).status_code]
    if api == "cancel":
        answers.append(_web(staff).post(f"/orders/{order.pk}/cancel/").status_code)

    assert answers == ([404, 403, 404] if api == "cancel" else [403, 403])
    after = Order.objects.get(pk=order.pk)
    assert (after.state, after.refunded_amount) == (state, Decimal("0.00"))


def test_staff_who_may_only_withdraw_products_put_them_back_on_sale_too(make_user, jwt_client, catalog):
    staff = jwt_client(one_permission_staff(make_user, "delete_product", app="catalog"))

    assert staff.delete("/api/products/prod-004").status_code == 204
    assert staff.patch("/api/products/prod-004", {"price": "1.00"}, format="json").status_code == 403
    assert staff.patch("/api/products/prod-004", {"state": "active"}, format="json").status_code == 200
    assert Product.objects.get(public_id="prod-004").is_active


def test_staff_who_may_only_change_products_edit_withdrawn_ones_but_not_their_state(make_user, jwt_client, catalog):
    Product.objects.filter(public_id="prod-005").update(is_active=False)
    staff = jwt_client(one_permission_staff(make_user, "change_product", app="catalog"))

    assert staff.patch("/api/products/prod-005", {"price": "5.55"}, format="json").status_code == 200
    assert staff.patch("/api/products/prod-005", {"state": "active"}, format="json").status_code == 403
    product = Product.objects.get(public_id="prod-005")
    assert (product.price, product.is_active) == (Decimal("5.55"), False)


@pytest.mark.parametrize(("state", "api", "admin_path", "body"), [
    ("awaiting_approval", "approve", "actions/approve/", {}),
    ("awaiting_approval", "reject", "actions/reject/", CONFIRMED),
    ("delivered", "refund", "refund/", {"amount": "1.00", "reason": "Mine", "idempotency_key": "k"}),
])
def test_staff_never_decide_on_their_own_orders(state, api, admin_path, body, make_user, order_in, jwt_client):
    boss = make_user("boss@example.com", is_staff=True, is_superuser=True)
    own, other = order_in(state, user=boss), order_in(state, user=boss)

    response = jwt_client(boss).post(f"/api/orders/{own.pk}/{api}", body, format="json")
    page = _web(boss).post(f"/admin/orders/order/{other.pk}/{admin_path}", body, follow=True)

    assert response.status_code == 403
    assert response.json() == {"error": f"You cannot {api} your own order {own.number}; ask a colleague.",
                               "code": "permission_denied"}
    assert f"You cannot {api} your own order {other.number}; ask a colleague." in page.content.decode()
    for order in (own, other):
        after = Order.objects.get(pk=order.pk)
        assert (after.state, after.refunded_amount) == (state, Decimal("0.00"))


def test_customers_are_not_told_which_staff_member_acted(jwt_client, customer, place_order, staff_user):
    order = place_order(customer)
    jwt_client(staff_user).post(f"/api/orders/{order.pk}/cancel", {}, format="json")

    seen_by_customer = jwt_client(customer).get(f"/api/orders/{order.pk}").json()["timeline"]
    seen_by_staff = jwt_client(staff_user).get(f"/api/orders/{order.pk}").json()["timeline"]

    assert seen_by_customer[-1]["actor"] == "Staff"
    assert seen_by_staff[-1]["actor"] == f"Staff {staff_user.email}"
    assert staff_user.email not in str(seen_by_customer)
