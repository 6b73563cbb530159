"""Catalog pages: the product grid (filtered in place through HTMX) and one product.

The grid and the product are rendered once per version of the rows they show and shared by
every request (store/fragments.py); the rest of the page (header, cart, messages) is each
request's own.
"""
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from catalog import selectors
from store.errors import NotFound
from store.fragments import rows_digest, shared_fragment


def product_list(request: HttpRequest) -> HttpResponse:
    """The grid of products on sale, narrowed by ?category=<slug> and ?q=<words>.

    The filter form's HTMX requests (target #product-grid) get only the grid; the URL they
    push renders the whole page.
    """
    category, query = request.GET.get("category", "").strip(), request.GET.get("q", "").strip()
    products = list(selectors.product_list(category=category, search=query))
    grid = shared_fragment(request, template_name="catalog/partials/product_grid.html",
                           digest=rows_digest(products, "category"), context={"products": products})
    context = {"products": products, "grid": grid, "selected_category": category, "query": query}
    if request.htmx.target == "product-grid":
        response = render(request, "catalog/partials/product_grid_update.html", context)
    else:
        response = render(request, "catalog/product_list.html", {**context, "categories": selectors.category_list()})
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def product_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    try:
        product = selectors.product_get(public_id)
    except NotFound as error:
        raise Http404(error.message) from None
    body = shared_fragment(request, template_name="catalog/partials/product_detail_body.html",
                           digest=rows_digest([product], "category"), context={"product": product})
    return render(request, "catalog/product_detail.html", {"product": product, "product_body": body})
