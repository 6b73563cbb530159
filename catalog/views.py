"""Catalog pages: the product grid (filtered in place through HTMX) and one product.

The grid and the product are rendered once per version of the rows they show and shared by
every request, and so is the whole page for a visitor with no session (store/fragments.py);
anyone else's header (cart, messages, account) is rendered for them.
"""
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject

from catalog import selectors
from store.errors import NotFound
from store.fragments import Fragment, rows_digest, shared_render


def product_list(request: HttpRequest) -> HttpResponse:
    """The grid of products on sale, narrowed by ?category=<slug> and ?q=<words>.

    The filter form's HTMX requests (target #product-grid) get only the grid; the URL they
    push renders the whole page.
    """
    category, query = request.GET.get("category", "").strip(), request.GET.get("q", "").strip()
    if category or query:
        products = list(selectors.product_list(category=category, search=query))
        # A search's results are the visitor's to choose (any subset of the products), so never kept.
        digest = None if query else rows_digest(products, "category")
    else:
        # The products are made only when the grid or the page is rendered: a kept one needs the rows alone.
        rows = selectors.product_list_rows()
        products, digest = SimpleLazyObject(rows.objects), rows.digest()
    grid = Fragment("catalog/partials/product_grid.html", {"products": products}, digest)
    context = {"products": products, "selected_category": category, "query": query}
    if request.htmx.target == "product-grid":
        template_name, shown, slugs = "catalog/partials/product_grid_update.html", "", set()
        if category:
            slugs = {c.slug for c in selectors.category_list()}
    else:
        categories = selectors.category_list_rows()
        context["categories"] = categories.objects()
        template_name, shown = "catalog/product_list.html", categories.digest()
        slugs = {c.slug for c in context["categories"]}
    # The whole page is kept only for the few addresses there are: all products, or one category
    # by its slug as the filter form sends it; any other text is rendered around the grid.
    known = not query and (not category or category in slugs)
    response = shared_render(request, template_name, context, fragments={"grid": grid},
                             digest=repr((category, shown)) if known else None)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def product_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    try:
        rows = selectors.product_rows(public_id)
    except NotFound as error:
        raise Http404(error.message) from None

    def product() -> dict:
        return {"product": rows.objects()[0]}

    body = Fragment("catalog/partials/product_detail_body.html", product, rows.digest())
    return shared_render(request, "catalog/product_detail.html", product, fragments={"product_body": body}, digest="")
