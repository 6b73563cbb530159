"""Shapes of /api/products: {id, name, description, price, category, image, stock, weightGrams, state}."""
from decimal import Decimal

from rest_framework import serializers

from catalog.models import STOCK_MAX, WEIGHT_MAX_GRAMS, Product
from store.api import fields
from store.api.query import QueryParams
from store.numbers import AsciiDecimalField, AsciiIntegerField

STATES = ("active", "inactive")
WEIGHT_RANGE = f"Enter the packed weight in whole grams, from 1 to {WEIGHT_MAX_GRAMS:,}."


class ProductSerializer(serializers.Serializer):
    id = fields.CharField(source="public_id", read_only=True)
    name = fields.CharField(read_only=True)
    description = fields.CharField(read_only=True)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, read_only=True)
    category = fields.CharField(source="category.name", read_only=True)
    image = serializers.SerializerMethodField(
        help_text="URL of the product's picture: the image staff uploaded, else its built-in picture."
    )
    stock = serializers.IntegerField(read_only=True)
    weightGrams = serializers.IntegerField(source="weight_grams", read_only=True,  # noqa: N815 - the API's name
                                           help_text="One unit's packed weight in grams; it prices shipping.")
    state = fields.ChoiceField(choices=STATES, read_only=True)

    def get_image(self, product: Product) -> str:
        return product.image_url


class ProductFilterSerializer(QueryParams):
    """?category= and ?search= (each optional; given empty, a 400 naming it)."""

    category = fields.CharField(required=False, help_text="Category name or slug, case-insensitive.")
    search = fields.CharField(required=False, help_text="Words in the name or the description.")


class ProductWriteSerializer(serializers.Serializer):
    """Staff input. `category` is a category's name or slug; `image` a built-in picture's name (catalog.pictures)."""

    id = fields.RegexField(
        r"^[a-z0-9][a-z0-9-]*$", max_length=32, required=False, help_text='Defaults to the next "prod-NNN".'
    )
    name = fields.CharField(max_length=200)
    description = fields.CharField(required=False, allow_blank=True, default="")
    price = AsciiDecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0"))
    category = fields.CharField(max_length=80)
    image = fields.RegexField(r"^[a-z0-9-]*$", max_length=80, required=False, allow_blank=True, default="")
    stock = AsciiIntegerField(min_value=0, max_value=STOCK_MAX, required=False, default=0)
    weightGrams = AsciiIntegerField(  # noqa: N815 - the API's name
        min_value=1, max_value=WEIGHT_MAX_GRAMS, required=False,
        error_messages={"min_value": WEIGHT_RANGE, "max_value": WEIGHT_RANGE},
        help_text=f"One unit's packed weight in grams, 1 to {WEIGHT_MAX_GRAMS}; it prices shipping. Defaults to 500.",
    )
    state = fields.ChoiceField(choices=STATES, required=False, default="active")

    def to_internal_value(self, data):
        """Model field names for the service: id → public_id, weightGrams → weight_grams, state → is_active."""
        values = super().to_internal_value(data)
        if "weightGrams" in values:
            values["weight_grams"] = values.pop("weightGrams")
        if "id" in values:
            values["public_id"] = values.pop("id")
        if "state" in values:
            values["is_active"] = values.pop("state") == "active"
        return values


class ProductUpdateSerializer(ProductWriteSerializer):
    """PATCH: any subset of the writable fields except the id; `stock` with `expectedStock`."""

    id = None
    stock = AsciiIntegerField(min_value=0, max_value=STOCK_MAX, required=False,
                              help_text="The new stock; send it with expectedStock.")
    expectedStock = AsciiIntegerField(
        min_value=0, max_value=STOCK_MAX, required=False,
        help_text="Required with stock: the stock you read (GET). Orders reserve stock all the time; if they "
        "moved it since, the answer is 409 stock_changed naming today's number, and nothing is saved.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, partial=True, **kwargs)

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        if ("stock" in values) != ("expectedStock" in values):
            missing = "expectedStock" if "stock" in values else "stock"
            raise serializers.ValidationError({missing: ["stock and expectedStock go together."]})
        if "expectedStock" in values:
            values["stock_seen"] = values.pop("expectedStock")
        return values
