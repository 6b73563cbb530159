"""Every staff action on any surface leaves a record staff can read: product changes with old and
new values (the API's too), order actions with the actor, the actor's e-mail kept after the
account is deleted, and one "Staff actions" page filtered by person and by object."""
from auditlog.models import LogEntry
from django.test import Client

from catalog.models import Product
from orders.models import Order, OrderEvent

STAFF_ACTIONS = "/admin/auditlog/logentry/"


def entries_for(obj) -> list[LogEntry]:
    return list(LogEntry.objects.get_for_object(obj).order_by("id"))


def test_api_product_changes_are_recorded_with_old_and_new_values(jwt_client, staff_user, catalog):
    api = jwt_client(staff_user)

    created = api.post("/api/products", {"name": "Desk Lamp", "price": "39.00", "category": "Electronics",
                                         "stock": 5}, format="json")
    old = catalog["prod-003"]
    api.patch("/api/products/prod-003", {"price": "12.34", "stock": 7, "expectedStock": old.stock}, format="json")
    api.delete("/api/products/prod-003")

    lamp = Product.objects.get(public_id=created.json()["id"])
    assert [(e.action, e.actor_email) for e in entries_for(lamp)] == [(LogEntry.Action.CREATE, staff_user.email)]
    changes = [(e.changes_dict, e.actor_email) for e in entries_for(catalog["prod-003"])]
    assert changes == [
        ({"stock": [str(old.stock), "7"]}, staff_user.email),  # set from the number read, recorded by itself
        ({"price": [str(old.price), "12.34"]}, staff_user.email),
        ({"is_active": ["True", "False"]}, staff_user.email),
    ]


def test_pipeline_stock_moves_are_not_staff_actions(customer, place_order, catalog):
    place_order(customer, {"prod-002": 2})

    assert entries_for(catalog["prod-002"]) == []


def test_order_actions_are_events_with_the_actor_and_entries_in_the_trail(jwt_client, make_user, customer,
                                                                          place_order):
    order = place_order(customer)
    clerk = make_user("clerk-gone@example.com", is_staff=True, is_superuser=True)

    assert jwt_client(clerk).post(f"/api/orders/{order.pk}/cancel", {"note": "Duplicate"},
                                  format="json").status_code == 200

    event = OrderEvent.objects.get(order=order, transition="cancel")
    assert (event.actor_kind, event.actor_email) == ("staff", clerk.email)
    [entry] = entries_for(order)
    assert entry.changes_dict == {"state": ["new", "cancelled"]}
    assert (entry.additional_data["action"], entry.additional_data["note"]) == ("cancel", "Duplicate")
    assert entry.actor_email == clerk.email


def test_the_actors_e_mail_stays_when_the_staff_account_is_deleted(jwt_client, make_user, customer, place_order,
                                                                   staff_user):
    order = place_order(customer)
    leaver = make_user("leaver@example.com", is_staff=True, is_superuser=True)
    jwt_client(leaver).post(f"/api/orders/{order.pk}/cancel", {}, format="json")
    jwt_client(leaver).patch("/api/products/prod-001", {"price": "99.00"}, format="json")

    leaver.delete()

    event = OrderEvent.objects.get(order=order, transition="cancel")
    assert (event.actor_id, event.actor_email, event.actor_label) == (None, "leaver@example.com",
                                                                      "Staff leaver@example.com")
    assert set(LogEntry.objects.filter(actor_email="leaver@example.com").values_list("actor_id", flat=True)) == {None}
    admin = Client()
    admin.force_login(staff_user)
    page = admin.get(STAFF_ACTIONS, {"actor_email": "leaver@example.com"}).content.decode()
    assert page.count("leaver@example.com</td>") == 2
    order_page = admin.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert "Staff leaver@example.com" in order_page


def test_the_staff_actions_page_filters_by_person_and_by_object(jwt_client, make_user, staff_user, catalog,
                                                                shop_staff):
    anna, ben = (make_user(f"{name}@example.com", is_staff=True, is_superuser=True) for name in ("anna", "ben"))
    jwt_client(anna).patch("/api/products/prod-001", {"price": "1.00"}, format="json")
    jwt_client(ben).patch("/api/products/prod-002", {"price": "2.00"}, format="json")
    jwt_client(ben).patch("/api/products/prod-001", {"stock": 3, "expectedStock": 50}, format="json")
    clerk = Client()
    clerk.force_login(shop_staff)  # "Shop staff" may read the trail

    by_person = clerk.get(STAFF_ACTIONS, {"actor_email": "ben@example.com"})
    by_object = clerk.get(STAFF_ACTIONS, {"q": catalog["prod-001"].name})

    assert by_person.status_code == 200
    assert {e.actor_email for e in by_person.context["cl"].result_list} == {"ben@example.com"}
    assert len(by_person.context["cl"].result_list) == 2
    assert {e.object_pk for e in by_object.context["cl"].result_list} == {str(catalog["prod-001"].pk)}
    assert {e.actor_email for e in by_object.context["cl"].result_list} == {"anna@example.com", "ben@example.com"}
    assert "Staff actions" in by_person.content.decode()


def test_staff_without_the_permission_cannot_read_the_trail(make_user):
    bare = Client()
    bare.force_login(make_user("bare@example.com", is_staff=True))

    assert bare.get(STAFF_ACTIONS).status_code == 403


def test_the_trail_is_read_only(staff_user, jwt_client, catalog):
    jwt_client(staff_user).patch("/api/products/prod-001", {"price": "1.00"}, format="json")
    entry = LogEntry.objects.latest("id")
    admin = Client()
    admin.force_login(staff_user)

    assert admin.post(f"{STAFF_ACTIONS}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert LogEntry.objects.filter(pk=entry.pk).exists()
    assert Order.objects.count() == 0


def test_a_save_that_fails_leaves_no_entry_and_no_500(jwt_client, staff_user, catalog):
    api = jwt_client(staff_user)

    huge = api.patch("/api/products/prod-004", {"stock": 10**30}, format="json")

    assert huge.status_code == 400
    assert "stock" in huge.json()["fields"]
    assert entries_for(catalog["prod-004"]) == []


def test_unlocking_an_account_in_the_admin_is_a_staff_action(staff_user, customer, rate_limits):
    from axes.models import AccessAttempt
    from rest_framework.test import APIClient

    for _ in range(5):
        APIClient().post("/api/auth/login", {"email": customer.email, "password": "wrong"}, format="json")
    attempt = AccessAttempt.objects.get(username=customer.email)
    admin = Client()
    admin.force_login(staff_user)

    admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})

    assert not AccessAttempt.objects.exists()
    entry = LogEntry.objects.filter(additional_data__action="unlock").get()
    assert (entry.actor_email, entry.additional_data["username"]) == (staff_user.email, customer.email)
    assert entry.changes_dict == {"failures_since_start": ["5", "0"]}


def test_only_superusers_write_task_schedules_and_what_they_write_is_recorded(make_user, staff_user):
    from django.contrib.auth.models import Permission
    from django_q.models import Schedule

    ops = make_user("ops@example.com", is_staff=True)
    ops.user_permissions.add(*Permission.objects.filter(content_type__app_label="django_q",
                                                        codename__in=["add_schedule", "view_schedule"]))
    form = {"name": "shell", "func": "os.system", "args": "'id'", "schedule_type": "O", "repeats": "-1",
            "next_run_0": "2026-01-01", "next_run_1": "00:00:00", "minutes": "", "cron": "", "cluster": "",
            "intended_date_kind": "D", "hook": "", "kwargs": ""}
    as_ops, as_root = Client(), Client()
    as_ops.force_login(ops)
    as_root.force_login(staff_user)

    assert as_ops.post("/admin/django_q/schedule/add/", form).status_code == 403
    assert as_ops.get("/admin/django_q/schedule/").status_code == 200
    assert not Schedule.objects.filter(name="shell").exists()
    assert as_root.post("/admin/django_q/schedule/add/", {**form, "func": "math.copysign"}).status_code == 302
    created = Schedule.objects.get(name="shell")
    assert LogEntry.objects.get_for_object(created).get().actor_email == staff_user.email
