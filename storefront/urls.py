"""Storefront pages (cart, checkout, the customer's orders), mounted at the site root."""
from django.urls import path

from storefront import views

# The names stay `orders:*`: they are the `view` label of the request metrics, which dashboards
# and alerts select by.
app_name = "orders"
urlpatterns = [
    path("cart/", views.cart_detail, name="cart"),
    path("cart/badge/", views.cart_badge, name="cart_badge"),
    path("cart/add/", views.cart_add_view, name="cart_add"),
    path("cart/update/", views.cart_update_view, name="cart_update"),
    path("cart/remove/", views.cart_remove_view, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/shipping/", views.checkout_shipping_options, name="checkout_shipping"),
    path("orders/", views.order_list, name="order_list"),
    path("orders/<int:order_id>/", views.order_detail, name="order_detail"),
    path("orders/<int:order_id>/status/", views.order_status, name="order_status"),
    path("orders/<int:order_id>/cancel/", views.order_cancel, name="order_cancel"),
    path("orders/<int:order_id>/try-again/", views.order_try_again, name="order_try_again"),
    path("orders/<int:order_id>/try-again/cart/", views.order_try_again_cart, name="order_try_again_cart"),
    path("orders/payment-link/<str:token>/", views.payment_link, name="payment_link"),
]
