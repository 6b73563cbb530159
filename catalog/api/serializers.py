"""Shapes of /api/products: {id, name, description, price, category, image, stock, state}."""
from decimal import Decimal

from django.templatetags.static import static
from rest_framework import serializers

from catalog.models import Product
from store.numbers import AsciiDecimalField, AsciiIntegerField

STATES = ("active", "inactive")


class ProductSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, read_only=True)
    category = serializers.CharField(source="category.name", read_only=True)
    image = serializers.SerializerMethodField(help_text="URL of the product's picture.")
    stock = serializers.IntegerField(read_only=True)
    state = serializers.ChoiceField(choices=STATES, read_only=True)

    def get_image(self, product: Product) -> str:
        return static(product.image_path)


class ProductFilterSerializer(serializers.Serializer):
    category = serializers.CharField(
        required=False, allow_blank=True, help_text="Category name or slug, case-insensitive."
    )
    search = serializers.CharField(required=False, allow_blank=True, help_text="Words in the name or the description.")


class ProductWriteSerializer(serializers.Serializer):
    """Staff input. `category` is a category's name or slug; `image` a name under static/img/categories/."""

    id = serializers.RegexField(
        r"^[a-z0-9][a-z0-9-]*$", max_length=32, required=False, help_text='Defaults to the next "prod-NNN".'
    )
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    price = AsciiDecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0"))
    category = serializers.CharField(max_length=80)
    image = serializers.RegexField(r"^[a-z0-9-]*$", max_length=80, required=False, allow_blank=True, default="")
    # Product.stock is a PositiveIntegerField: at most 2,147,483,647 on every database.
    stock = AsciiIntegerField(min_value=0, max_value=2_147_483_647, required=False, default=0)
    state = serializers.ChoiceField(choices=STATES, required=False, default="active")

    def to_internal_value(self, data):
        """Model field names for the service: id → public_id, state → is_active."""
        values = super().to_internal_value(data)
        if "id" in values:
            values["public_id"] = values.pop("id")
        if "state" in values:
            values["is_active"] = values.pop("state") == "active"
        return values


class ProductUpdateSerializer(ProductWriteSerializer):
    """PATCH: any subset of the writable fields except the id."""

    id = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, partial=True, **kwargs)
