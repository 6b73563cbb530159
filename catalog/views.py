"""Catalog pages: the product grid (filtered in place through HTMX) and one product."""
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from catalog import selectors
from store.errors import NotFound


def product_list(request: HttpRequest) -> HttpResponse:
    """The grid of products on sale, narrowed by ?category=<slug> and ?q=<words>.

    The filter form's HTMX requests (target #product-grid) get only the grid; the URL they
    push renders the whole page.
    """
    category, query = request.GET.get("category", "").strip(), request.GET.get("q", "").strip()
    context = {
        "products": selectors.product_list(category=category, search=query),
        "selected_category": category,
        "query": query,
    }
    if request.htmx.target == "product-grid":
        response = render(request, "catalog/partials/product_grid.html", {**context, "grid_only": True})
    else:
        response = render(request, "catalog/product_list.html", {**context, "categories": selectors.category_list()})
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def product_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    try:
        product = selectors.product_get(public_id)
    except NotFound as error:
        raise Http404(error.message) from None
    return render(request, "catalog/product_detail.html", {"product": product})
