"""/api/products: the public catalog, plus staff-only catalog management."""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import selectors, services
from catalog.api.serializers import (
    ProductFilterSerializer,
    ProductSerializer,
    ProductUpdateSerializer,
    ProductWriteSerializer,
)
from store import permissions
from store.api.pagination import PAGE_PARAMETERS, FirstPage, HeaderPagination
from store.api.query import refuse_unknown_parameters
from store.errors import NotFound
from store.fragments import rows_digest, shared_data
from store.permissions import StaffPermission

NOT_FOUND = OpenApiResponse(description='No such product: {"error", "code": "not_found"}')
INVALID = OpenApiResponse(description='Validation error: {"error", "code": "invalid", "fields"}')
STOCK_CHANGED = OpenApiResponse(
    description='Orders moved the stock since it was read; nothing was saved: {"error", "code": "stock_changed", '
    '"fields": {"expectedStock"}}, the error and the field naming the stock as it is now'
)
FORBIDDEN = OpenApiResponse(
    description='Staff with the catalog permission only: 401 without a token, 403 {"code": "permission_denied"} '
    "without the permission"
)


class CatalogApi(APIView):
    """Anyone reads the catalog; each write needs its staff permission (store.permissions)."""

    write_permissions: dict[str, tuple[permissions.StaffAction, ...]] = {}

    def get_permissions(self):
        actions = self.write_permissions.get(self.request.method)
        return [StaffPermission(*actions)()] if actions else [AllowAny()]


class ProductListApi(CatalogApi):
    write_permissions = {"POST": (permissions.PRODUCT_ADD,)}
    pagination_class = HeaderPagination  # also read by drf-spectacular, which documents ?page=&pageSize=

    @extend_schema(
        tags=["products"],
        summary="Products on sale",
        parameters=[ProductFilterSerializer],
        responses={200: ProductSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        """Active products, filtered by ?category= and ?search=, paginated by ?page=&pageSize= (an empty value
        or any other parameter is a 400)."""
        paginator = self.pagination_class()
        if not request.query_params:
            # The first page of all products, the common read: rows only, products made when serialized.
            rows, total = selectors.product_first_page_rows(paginator.page_size)
            page = paginator.paginate_queryset(FirstPage(rows.rows, total), request, view=self)
            data = shared_data(name="api:products", digest=rows.digest(page),
                               compute=lambda: [dict(item) for item in ProductSerializer(rows.objects(page), many=True).data])
            return paginator.get_paginated_response(data)
        refuse_unknown_parameters(request.query_params, (*ProductFilterSerializer._declared_fields, *PAGE_PARAMETERS),
                                  endpoint="GET /api/products")
        filters = ProductFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = paginator.paginate_queryset(selectors.product_list(**filters.validated_data), request, view=self)
        # Serialized once per version of the page's rows, for every process (store/fragments.py);
        # a search's, whose rows can be any subset of the products, and a page of a size the client
        # chose (each size slices the catalog anew), for its request.
        def serialize() -> list[dict]:
            return [dict(item) for item in ProductSerializer(page, many=True).data]

        if filters.validated_data.get("search") or paginator.page_size_query_param in request.query_params:
            data = serialize()
        else:
            data = shared_data(name="api:products", digest=rows_digest(page, "category"), compute=serialize)
        return paginator.get_paginated_response(data)

    @extend_schema(
        tags=["products"],
        summary="Add a product (staff)",
        request=ProductWriteSerializer,
        responses={201: ProductSerializer, 400: INVALID, 401: FORBIDDEN, 403: FORBIDDEN, 409: INVALID},
    )
    def post(self, request: Request) -> Response:
        data = ProductWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product = services.product_create(**data.validated_data, actor=request.user)
        return Response(ProductSerializer(product).data, status=status.HTTP_201_CREATED)


class ProductDetailApi(CatalogApi):
    # PATCH: "state" alone needs the withdraw permission, any other field the change permission.
    write_permissions = {
        "PATCH": (permissions.PRODUCT_CHANGE, permissions.PRODUCT_WITHDRAW),
        "DELETE": (permissions.PRODUCT_WITHDRAW,),
    }

    def _product(self, request: Request, public_id: str):
        try:
            return selectors.product_get(
                public_id, include_inactive=permissions.can_see_withdrawn_products(request.user)
            )
        except NotFound:
            # Staff who would see it with their second factor are told so, not that it is missing.
            permissions.sees_withdrawn_products(request.user)
            raise

    @extend_schema(tags=["products"], summary="One product", responses={200: ProductSerializer, 404: NOT_FOUND})
    def get(self, request: Request, public_id: str) -> Response:
        product = self._product(request, public_id)
        return Response(shared_data(name="api:product", digest=rows_digest([product], "category"),
                                    compute=lambda: dict(ProductSerializer(product).data)))

    @extend_schema(
        tags=["products"],
        summary="Change a product (staff)",
        description="Writes the given fields only. Orders reserve and release stock all the time, so a new "
        "`stock` comes with `expectedStock`, the stock you read: it is set only if orders have not moved it "
        "since (sending the same PATCH again is harmless). Otherwise the answer is 409 `stock_changed` naming "
        "today's stock and nothing of the PATCH is saved: read the product again and send the stock you want "
        "with the new `expectedStock`.",
        request=ProductUpdateSerializer,
        responses={200: ProductSerializer, 400: INVALID, 401: FORBIDDEN, 403: FORBIDDEN, 404: NOT_FOUND,
                   409: STOCK_CHANGED},
    )
    def patch(self, request: Request, public_id: str) -> Response:
        product = self._product(request, public_id)
        data = ProductUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if set(data.validated_data) - {"is_active"}:
            permissions.require(request.user, permissions.PRODUCT_CHANGE)
        if data.validated_data.get("is_active", product.is_active) != product.is_active:
            permissions.require(request.user, permissions.PRODUCT_WITHDRAW)
        product = services.product_update(product=product, actor=request.user, **data.validated_data)
        return Response(ProductSerializer(product).data)

    @extend_schema(
        tags=["products"],
        summary="Withdraw a product from sale (staff)",
        description="Deactivates the product (state becomes inactive); it is never deleted, because past "
        "orders refer to it. PATCH {\"state\": \"active\"} puts it back on sale.",
        responses={204: None, 401: FORBIDDEN, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def delete(self, request: Request, public_id: str) -> Response:
        services.product_deactivate(product=self._product(request, public_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
