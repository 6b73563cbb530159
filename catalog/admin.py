"""Categories and products in the admin: price, stock and active edited right in the list."""
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from catalog.models import Category, Product
from catalog.selectors import product_next_public_id
from catalog.validators import validate_image_name


class ImageNameMixin:
    """The image field accepts only pictures that exist under static/img/categories/."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "image":
            field.validators.append(validate_image_name)
        return field


@admin.register(Category)
class CategoryAdmin(ImageNameMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "image", "product_count")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Category]:
        return super().get_queryset(request).annotate(product_count=Count("products"))

    @admin.display(description="products", ordering="product_count")
    def product_count(self, category: Category) -> int:
        return category.product_count


@admin.register(Product)
class ProductAdmin(ImageNameMixin, admin.ModelAdmin):
    list_display = ("public_id", "name", "category", "price", "stock", "is_active", "updated_at")
    list_display_links = ("public_id", "name")
    list_editable = ("price", "stock", "is_active")
    list_filter = ("category", "is_active")
    list_select_related = ("category",)
    search_fields = ("name", "public_id")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("public_id", "name", "category", "description", "image")}),
        ("Sale", {"fields": ("price", "stock", "is_active")}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        return {"public_id": product_next_public_id(), **super().get_changeform_initial_data(request)}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "stock":
            # Compare the submitted stock with what staff saw, not with the database, so that
            # changed_data (below) holds "stock" only when they really edited it.
            field.show_hidden_initial = True
        return field

    def save_model(self, request: HttpRequest, obj: Product, form, change: bool) -> None:
        if not change:
            obj.save()
        elif form.changed_data:
            # Orders move stock with conditional UPDATEs while this page is open: writing every
            # column would put the stock staff saw back in place and oversell.
            obj.save(update_fields=[*form.changed_data, "updated_at"])
