"""Categories and products in the admin: price, stock and active edited right in the list.

Who may add, change and withdraw products is store.permissions' to say, as on the API.
Products are never deleted (past orders refer to them): withdrawing one from sale, or
putting it back, is switching "active", which needs catalog.delete_product. Staff who may
change a product may upload its image (catalog.forms says what is accepted); the list and
the change page show the picture the storefront shows.
"""
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from backoffice.admin.base import BoundedChangeListMixin, LabelledListEditableMixin
from catalog import services
from catalog.forms import ProductPhotoField
from catalog.models import STOCK_MAX, WEIGHT_MAX_GRAMS, Category, Product
from catalog.pictures import builtin_picture_choices, product_picture, product_renditions_make
from catalog.selectors import product_next_public_id, product_stock_ledger, product_stock_ledger_total
from catalog.stock import stock_opened
from catalog.validators import validate_image_name
from store import permissions
from store.numbers import AsciiDecimalFormField, AsciiIntegerFormField


class ImageNameMixin:
    """The image field is a select of the built-in pictures (catalog.pictures), checked again on save."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "image":
            kwargs["widget"] = forms.Select(choices=builtin_picture_choices())
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "image":
            field.validators.append(validate_image_name)
        return field


def _stock_checked(form_class):
    """The product form refusing a stock edit when orders moved the stock since the page showed it.

    `stock_seen` is the number the page showed (the hidden initial value). A stock edit is
    refused with the numbers unless the stock is still what staff saw, or already what they
    want (a form submitted twice). A page without a readable hidden value is out of date.
    """

    class Form(form_class):
        stock_seen = None

        def clean_stock(self):
            wanted = self.cleaned_data["stock"]
            if "stock" not in self.changed_data or self.instance.pk is None:
                return wanted
            field = self.fields["stock"]
            raw = field.hidden_widget().value_from_datadict(self.data, self.files, self.add_initial_prefix("stock"))
            try:
                self.stock_seen = field.clean(raw)
            except forms.ValidationError:
                raise forms.ValidationError("This page is out of date: reload it and edit the stock again.") from None
            current = Product.objects.filter(pk=self.instance.pk).values_list("stock", flat=True).first()
            if current not in (self.stock_seen, wanted):
                # Show the number as it is now, so that the next save starts from it.
                self.data = self.data.copy()
                self.data[self.add_initial_prefix("stock")] = str(current)
                raise forms.ValidationError(
                    f"Orders moved the stock from {self.stock_seen} to {current} while you edited; nothing was "
                    f"saved. Enter the stock you want again (it is {current} now)."
                )
            return wanted

    return Form


class StockLevelFilter(admin.SimpleListFilter):
    """Low stock is the product's own threshold or, without one, STORE_LOW_STOCK_THRESHOLD units
    or fewer (the admin home page counts them)."""

    title = "stock"
    parameter_name = "stock_level"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [("low", f"Low (at its own threshold, else {settings.STORE_LOW_STOCK_THRESHOLD} or fewer)"),
                ("out", "Out of stock")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> QuerySet[Product]:
        if self.value() == "low":
            return queryset.low_stock()
        if self.value() == "out":
            return queryset.filter(stock=0)
        return queryset


@admin.register(Category)
class CategoryAdmin(ImageNameMixin, BoundedChangeListMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "image", "product_count")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Category]:
        return super().get_queryset(request).annotate(product_count=Count("products"))

    @admin.display(description="products", ordering="product_count")
    def product_count(self, category: Category) -> int:
        return category.product_count


# The product page shows this many of the newest ledger rows (all of them add up to the stock).
LEDGER_SHOWN = 50


@admin.register(Product)
class ProductAdmin(ImageNameMixin, LabelledListEditableMixin, BoundedChangeListMixin, admin.ModelAdmin):
    list_display = ("thumbnail", "public_id", "name", "category", "price", "stock", "weight_grams", "is_active",
                    "updated_at")
    list_display_links = ("public_id", "name")
    list_editable = ("price", "stock", "is_active")
    list_filter = ("category", "is_active", StockLevelFilter)
    actions = ("activate_selected", "deactivate_selected")
    list_select_related = ("category",)
    search_fields = ("name", "public_id")
    readonly_fields = ("created_at", "updated_at", "picture", "stock_ledger")
    fieldsets = (
        (None, {"fields": ("public_id", "name", "category", "description")}),
        ("Image", {"fields": ("picture", "photo", "image")}),
        ("Sale", {"fields": ("price", "stock", "low_stock_threshold", "is_active")}),
        ("Shipping", {"fields": ("weight_grams",)}),
        ("History", {"fields": ("created_at", "updated_at", "stock_ledger")}),
    )

    @admin.display(description="stock ledger")
    def stock_ledger(self, product: Product) -> str:
        """Who moved the stock and why, newest first: a read-only table (rows are written with each change)."""
        if product.pk is None:
            return "—"
        rows = product_stock_ledger(product=product)[:LEDGER_SHOWN]
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (f"{timezone.localtime(row.created_at):%Y-%m-%d %H:%M:%S}", f"{row.delta:+d}", row.get_reason_display(),
             format_html('<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[row.order_ref]),
                         f"#{row.order_ref:06d}") if row.order_ref else "—",
             row.user or "—")
            for row in rows
        ))
        return format_html(
            '<table class="stock-ledger"><thead><tr><th>When</th><th>Units</th><th>Why</th><th>Order</th>'
            "<th>Who</th></tr></thead><tbody>{}</tbody></table><p class=\"help\">Newest {} rows; all rows add up "
            "to the stock ({}).</p>", body, LEDGER_SHOWN, product_stock_ledger_total(product=product),
        )

    @admin.display(description="picture")
    def thumbnail(self, product: Product) -> str:
        picture = product_picture(product, "admin_thumb")
        return format_html('<img src="{}"{} alt="" width="{}" height="{}" class="product-thumb">', picture.src,
                           format_html(' srcset="{}"', picture.srcset) if picture.srcset else "",
                           picture.width, picture.height)

    @admin.display(description="shown on the storefront")
    def picture(self, product: Product) -> str:
        if product.pk is None:
            return "-"
        picture = product_picture(product, "admin_picture")
        return format_html('<img src="{}"{} alt="{}" width="{}" height="{}" class="product-picture">', picture.src,
                           format_html(' srcset="{}"', picture.srcset) if picture.srcset else "",
                           picture.alt, picture.width, picture.height)

    # --- Permissions (store.permissions) ----------------------------------------------------

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return permissions.can_see_withdrawn_products(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return permissions.can(request.user, permissions.PRODUCT_ADD)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return permissions.can(request.user, permissions.PRODUCT_CHANGE)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # withdrawn instead (the actions below)

    def has_withdraw_permission(self, request: HttpRequest) -> bool:
        return permissions.can(request.user, permissions.PRODUCT_WITHDRAW)

    def _active_locked(self, request: HttpRequest, form_class):
        """The form with "active" disabled (submitted values ignored) unless the user may withdraw."""
        if self.has_withdraw_permission(request) or "is_active" not in form_class.base_fields:
            return form_class

        class Form(form_class):
            def __init__(self, *args, **kwargs) -> None:
                super().__init__(*args, **kwargs)
                self.fields["is_active"].disabled = True
                self.fields["is_active"].help_text = (
                    f"Withdrawing a product or putting it back needs {permissions.PRODUCT_WITHDRAW.permission}."
                )

        return Form

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        # A new product may start off sale (as on the API); switching an existing one needs the permission.
        form = super().get_form(request, obj, change, **kwargs)
        return _stock_checked(self._active_locked(request, form)) if obj is not None else form

    def get_changelist_form(self, request: HttpRequest, **kwargs):
        return _stock_checked(self._active_locked(request, super().get_changelist_form(request, **kwargs)))

    def _set_active(self, request: HttpRequest, queryset: QuerySet[Product], *, active: bool) -> None:
        """Put products on or off sale through the catalog service, each change in the audit log."""
        changed = list(queryset.exclude(is_active=active))
        for product in changed:
            services.product_update(product=product, is_active=active)
        count = len(changed)
        done = "put back on sale" if active else "withdrawn from sale"
        messages.success(request, f"{count} product{'' if count == 1 else 's'} {done}.")

    @admin.action(description="Put selected products back on sale", permissions=["withdraw"])
    def activate_selected(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        self._set_active(request, queryset, active=True)

    @admin.action(description="Withdraw selected products from sale", permissions=["withdraw"])
    def deactivate_selected(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        self._set_active(request, queryset, active=False)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        return {"public_id": product_next_public_id(), **super().get_changeform_initial_data(request)}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # Numbers are plain ASCII digits (store.numbers), whole ones within what the column holds.
        if db_field.name in ("stock", "low_stock_threshold"):
            kwargs.update(form_class=AsciiIntegerFormField, max_value=STOCK_MAX)
        if db_field.name == "weight_grams":
            kwargs.update(form_class=AsciiIntegerFormField, min_value=1, max_value=WEIGHT_MAX_GRAMS)
        if db_field.name == "price":
            kwargs["form_class"] = AsciiDecimalFormField
        if db_field.name == "photo":
            kwargs["form_class"] = ProductPhotoField
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "weight_grams":
            message = f"Enter the packed weight in whole grams, from 1 to {WEIGHT_MAX_GRAMS:,}."
            field.error_messages.update(min_value=message, max_value=message)
        if db_field.name == "stock":
            # The form carries the stock staff saw: changed_data holds "stock" only when they
            # edited it, and the edit is refused if orders moved it meanwhile (_stock_checked).
            field.show_hidden_initial = True
        return field

    @staticmethod
    def _photo_store(obj: Product, form) -> None:
        """Store a new upload under its final name before the row is saved, so that the audit
        trail (which reads the row before Django would store the file) records that name."""
        upload = form.cleaned_data.get("photo")
        if "photo" in form.changed_data and upload:
            obj.photo.save(upload.name, upload, save=False)
            product_renditions_make(obj)  # now, rather than on the first page that shows it

    def save_model(self, request: HttpRequest, obj: Product, form, change: bool) -> None:
        if not change:
            self._photo_store(obj, form)
            with transaction.atomic():  # the product and its ledger's first row, together
                obj.save()
                stock_opened(product=obj, user=request.user)
            return
        # Orders move stock with conditional UPDATEs while this page is open: writing every
        # column would put the stock staff saw back in place and oversell. Stock is set only
        # if it is still what staff saw (the form checked; an order in between refuses it here).
        if "stock" in form.changed_data:
            seen, wanted = form.stock_seen, form.cleaned_data["stock"]
            if not services.product_stock_set(product=obj, seen=seen, wanted=wanted, actor=request.user):
                messages.error(request, f"Nothing of {obj.name} was saved: an order moved its stock just now. "
                                        "Open the product again and repeat your change.")
                return
        fields = [name for name in form.changed_data if name != "stock"]
        self._photo_store(obj, form)
        if fields:
            obj.save(update_fields=[*fields, "updated_at"])
