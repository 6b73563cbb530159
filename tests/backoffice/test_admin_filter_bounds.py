"""A filter in an admin list's address with a value the database cannot take (a number past its
integers, a NUL character; a pasted or edited link) is refused like any bad filter, never a
server error, on SQLite and PostgreSQL."""
import pytest

TOO_BIG = "99999999999999999999999"


@pytest.mark.parametrize("url", [
    f"/admin/orders/order/?owner={TOO_BIG}",
    f"/admin/orders/order/?owner__id__in=1,{TOO_BIG}",
    f"/admin/orders/refund/?order={TOO_BIG}",
    f"/admin/orders/customer/?id__in={TOO_BIG}",
    f"/admin/catalog/product/?category={TOO_BIG}",
    f"/admin/catalog/product/?category=-{TOO_BIG}",
    "/admin/orders/order/?state__exact=paid%00",
    "/admin/orders/refund/?reason=%00",
    f"/admin/accounts/user/?groups={TOO_BIG}",
    f"/admin/workflows/reviewrule/?id={TOO_BIG}",
])
def test_a_list_filtered_by_a_value_the_database_cannot_take_shows_the_bad_filter_note(admin_client, order_in, url):
    order_in("paid")

    response = admin_client.get(url)

    assert response.status_code == 302
    assert response.url.endswith("?e=1")


@pytest.mark.parametrize("query", [{"owner": TOO_BIG}, {"state__exact": "paid\x00"}])
def test_the_export_filtered_by_a_value_the_database_cannot_take_is_a_400(admin_client, order_in, query):
    order_in("paid")

    response = admin_client.get("/admin/orders/order/export/", query)

    assert response.status_code == 400
    assert "Unknown filter" in response.content.decode()


def test_a_filter_by_a_real_id_still_filters(admin_client, order_in, other_customer):
    mine, theirs = order_in("paid"), order_in("paid", user=other_customer)

    response = admin_client.get("/admin/orders/order/", {"owner": str(other_customer.pk)})

    assert response.status_code == 200
    assert [order.pk for order in response.context["cl"].result_list] == [theirs.pk]
    assert mine.pk != theirs.pk
