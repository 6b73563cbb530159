"""Reads of the catalog: the products on sale, one product, the categories."""
import re

from django.db.models import Q, QuerySet, Sum

from catalog.models import Category, Product, ProductQuerySet, StockMovement
from store.errors import NotFound
from store.prepared import PreparedRead, Rows

PUBLIC_ID = re.compile(r"^prod-(\d+)\Z")
# No product text holds a NUL, and PostgreSQL refuses one in a query's value (an error, not "no match").
NUL = "\x00"


def product_list(*, category: str | None = None, search: str | None = None) -> ProductQuerySet:
    """Active products with their category (one query), by public id.

    `category` matches a category's name or slug, case-insensitively; `search` matches the
    name or the description. Blank values do not filter.
    """
    products = Product.objects.active().select_related("category")
    if NUL in f"{category or ''}{search or ''}":
        return products.none()
    if category and category.strip():
        category = category.strip()
        products = products.filter(Q(category__slug__iexact=category) | Q(category__name__iexact=category))
    if search and search.strip():
        search = search.strip()
        products = products.filter(Q(name__icontains=search) | Q(description__icontains=search))
    return products


def product_get(public_id: str, *, include_inactive: bool = False) -> Product:
    """The product with this public id (active ones only unless asked), or NotFound."""
    if NUL in public_id:
        raise _not_found(public_id)
    products = Product.objects.select_related("category")
    if not include_inactive:
        products = products.active()
    try:
        return products.get(public_id=public_id)
    except Product.DoesNotExist:
        raise _not_found(public_id) from None


def _not_found(public_id: str) -> NotFound:
    return NotFound(f"No product with id {public_id!r}.")


def category_list() -> list[Category]:
    return list(Category.objects.all())


# The reads of every catalog page and GET /api/products, compiled once (store.prepared): their
# rows are also the digest that keys the shared pages (store.fragments).
_PRODUCTS = PreparedRead(lambda: product_list())
_PRODUCT = PreparedRead(lambda public_id: product_list().filter(public_id=public_id), "public_id")
_CATEGORIES = PreparedRead(lambda: Category.objects.all())
# GET /api/products' first page, by its size: a LIMIT is part of the compiled SQL.
_FIRST_PAGES: dict[int, PreparedRead] = {}


def product_list_rows() -> Rows:
    """product_list() unfiltered, as rows (Rows.objects() gives the products)."""
    return _PRODUCTS.read()


def product_first_page_rows(size: int) -> tuple[Rows, int]:
    """The first `size` products of product_list() unfiltered, as rows, and how many products are
    on sale (a count query only when the page is full)."""
    read = _FIRST_PAGES.get(size) or _FIRST_PAGES.setdefault(size, PreparedRead(lambda: product_list()[:size]))
    rows = read.read()
    return rows, len(rows) if len(rows) < size else product_list().count()


def product_rows(public_id: str) -> Rows:
    """The active product with this public id as product_get reads it (one row), or NotFound."""
    rows = _PRODUCT.read(public_id=public_id) if NUL not in public_id else None
    if not rows:
        raise _not_found(public_id)
    return rows


def category_list_rows() -> Rows:
    """category_list() as rows."""
    return _CATEGORIES.read()


def category_find(name: str) -> Category | None:
    """The category with this name or slug (case-insensitive), if any."""
    name = name.strip()
    return Category.objects.filter(Q(name__iexact=name) | Q(slug__iexact=name)).first()


def product_next_public_id() -> str:
    """The next free public id in the "prod-001" sequence."""
    public_ids = Product.objects.filter(public_id__startswith="prod-").values_list("public_id", flat=True)
    numbers = [int(match.group(1)) for public_id in public_ids if (match := PUBLIC_ID.match(public_id))]
    return f"prod-{max(numbers, default=0) + 1:03d}"


def product_stock_ledger(*, product: Product) -> QuerySet[StockMovement]:
    """The product's stock movements, newest first, with who made them."""
    return StockMovement.objects.filter(product=product).select_related("user").order_by("-created_at", "-id")


def product_stock_ledger_total(*, product: Product) -> int:
    """The sum of the product's ledger: its stock, when every change went through catalog.stock."""
    return StockMovement.objects.filter(product=product).aggregate(total=Sum("delta"))["total"] or 0
