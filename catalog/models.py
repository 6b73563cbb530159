"""The catalog: categories and products with their stock."""
from django.db import models


class Category(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    image = models.CharField(
        max_length=80, blank=True, help_text="Static image name under static/img/categories/ (without .svg)."
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


STOCK_MAX = 2_147_483_647  # Product.stock is a PositiveIntegerField: its bound on every database


class ProductQuerySet(models.QuerySet["Product"]):
    def active(self) -> "ProductQuerySet":
        return self.filter(is_active=True)


class Product(models.Model):
    """A product. `public_id` ("prod-001") is what pages, the API and clients use."""

    public_id = models.CharField("id", max_length=32, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    stock = models.PositiveIntegerField(default=0, help_text="Units available to sell (reserved units excluded).")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    image = models.CharField(max_length=80, blank=True, help_text="Static image name (without .svg).")
    is_active = models.BooleanField("active", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["public_id"]
        indexes = [models.Index(fields=["is_active", "category"])]
        constraints = [models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_not_negative")]

    def __str__(self) -> str:
        return f"{self.name} ({self.public_id})"

    @property
    def state(self) -> str:
        return "active" if self.is_active else "inactive"

    @property
    def image_path(self) -> str:
        return f"img/categories/{self.image or 'default'}.svg"
