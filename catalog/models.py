"""The catalog: categories and products with their stock."""
from django.db import models
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
    image = models.CharField(
        "built-in picture", max_length=80, blank=True,
        help_text="Shown when no image is uploaded.",
    )
    photo = models.ImageField(
        "uploaded image", upload_to=photo_upload_to, blank=True,
        help_text="A JPEG, PNG, WebP or GIF image; shown instead of the built-in picture.",
    )
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
