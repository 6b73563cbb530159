"""The catalog: categories and products with their stock, and the stock's ledger."""
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Coalesce
from django.templatetags.static import static

from catalog.pictures import builtin_picture, photo_upload_to


class Category(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    image = models.CharField(
        max_length=80, blank=True, help_text="The built-in picture new products of this category start with."
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


WEIGHT_MAX_GRAMS = 30_000  # one unit's packed weight, at most a parcel carrier's limit per piece
STOCK_MAX = 2_147_483_647  # Product.stock is a PositiveIntegerField: its bound on every database


class ProductQuerySet(models.QuerySet["Product"]):
    def active(self) -> "ProductQuerySet":
        return self.filter(is_active=True)

    def low_stock(self) -> "ProductQuerySet":
        """Products at or under their own `low_stock_threshold`, or the shop's
        STORE_LOW_STOCK_THRESHOLD where they have none."""
        threshold = Coalesce("low_stock_threshold", models.Value(settings.STORE_LOW_STOCK_THRESHOLD))
        return self.alias(low_stock_at=threshold).filter(stock__lte=models.F("low_stock_at"))


class Product(models.Model):
    """A product. `public_id` ("prod-001") is what pages, the API and clients use."""

    public_id = models.CharField("id", max_length=32, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    stock = models.PositiveIntegerField(default=0, help_text="Units available to sell (reserved units excluded).")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    image = models.CharField(
        "built-in picture", max_length=80, blank=True,
        help_text="Shown when no image is uploaded.",
    )
    photo = models.ImageField(
        "uploaded image", upload_to=photo_upload_to, blank=True,
        help_text="A JPEG, PNG, WebP or GIF image; shown instead of the built-in picture.",
    )
    # What the carrier weighs (grams, packed): the parcel's weight, and so its shipping price, is
    # the sum of its units' (providers.rates). 30 kg is a parcel carrier's usual limit per piece.
    weight_grams = models.PositiveIntegerField(
        "weight (g)", default=500, validators=[MinValueValidator(1), MaxValueValidator(WEIGHT_MAX_GRAMS)],
        help_text="The packed weight of one unit, in grams; it prices shipping.",
    )
    is_active = models.BooleanField("active", default=True)
    low_stock_threshold = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Low stock at this many units or fewer; empty: the shop's setting (STORE_LOW_STOCK_THRESHOLD).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["public_id"]
        indexes = [models.Index(fields=["is_active", "category"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_not_negative"),
            models.CheckConstraint(condition=models.Q(weight_grams__gte=1, weight_grams__lte=WEIGHT_MAX_GRAMS),
                                   name="product_weight_in_range"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.public_id})"

    @property
    def state(self) -> str:
        return "active" if self.is_active else "inactive"

    @property
    def image_path(self) -> str:
        """The built-in picture's path under static/ (whether or not a photo was uploaded)."""
        return builtin_picture(self.image).path

    @property
    def image_url(self) -> str:
        """URL of the picture pages show: the uploaded photo's under MEDIA_URL, else the built-in one's."""
        return self.photo.url if self.photo else static(self.image_path)

    @property
    def image_alt(self) -> str:
        """Alt text of that picture: the product's name, and what a built-in picture shows."""
        return self.name if self.photo else f"{self.name}: {builtin_picture(self.image).description}"

    @property
    def low_stock_at(self) -> int:
        """The number of units at or under which this product is low on stock."""
        if self.low_stock_threshold is not None:
            return self.low_stock_threshold
        return settings.STORE_LOW_STOCK_THRESHOLD

    @property
    def is_low_on_stock(self) -> bool:
        return 0 < self.stock <= self.low_stock_at


class StockReason(models.TextChoices):
    OPENING = "opening", "Opening balance"
    CREATED = "created", "Product created"
    RESERVED = "reserved", "Reserved by an order"
    RELEASED = "released", "Released by an order"
    SOLD = "sold", "Sold (order shipped)"
    STAFF_EDIT = "staff_edit", "Edited by staff"
    RESTOCKED = "restocked", "Returned to stock by a refund"


class StockMovement(models.Model):
    """One change of a product's stock, written in the transaction that made it (catalog.stock).

    The deltas of a product's rows add up to its stock: an opening row carries the stock a
    product had when the ledger began. A sale moves no units (they left at reservation) and is
    a row of 0 that says where they went. `order_ref` is the order's id, a plain number: the
    catalog knows nothing of orders.
    """

    # Products are withdrawn, not deleted; one deleted anyway (a test, a shell) takes its ledger along.
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="stock_movements")
    delta = models.IntegerField(help_text="Units added (positive) or taken (negative).")
    reason = models.CharField(max_length=20, choices=StockReason.choices)
    order_ref = models.PositiveBigIntegerField("order", null=True, blank=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["product", "created_at"], name="stockmovement_product_created")]

    def __str__(self) -> str:
        return f"{self.delta:+d} {self.product.public_id} ({self.get_reason_display()})"
