"""/api/addresses: the signed-in customer's address book (thin over accounts.services and selectors).

Owner only: another customer's address id answers 404, as one that does not exist.
"""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.api.serializers import AddressInputSerializer, AddressSerializer
from store.api.query import refuse_unknown_parameters

INVALID = OpenApiResponse(description='Validation error: {"error", "code": "invalid", "fields"}, or a full book: '
                          '{"error", "code": "address_book_full"}')
UNAUTHORIZED = OpenApiResponse(description='Not signed in: {"error", "code"}')
NOT_FOUND = OpenApiResponse(description='No such address of yours: {"error", "code": "not_found"}')


def _fields(data: dict) -> dict:
    return {name: value for name, value in data.items() if name in services.ADDRESS_FIELDS}


class AddressListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=["addresses"], operation_id="addresses_list", summary="Your addresses, the default first",
                   responses={200: AddressSerializer(many=True), 401: UNAUTHORIZED})
    def get(self, request: Request) -> Response:
        refuse_unknown_parameters(request.query_params, (), endpoint="GET /api/addresses")
        return Response(AddressSerializer(selectors.address_list(user=request.user), many=True).data)

    @extend_schema(tags=["addresses"], operation_id="addresses_create", summary="Add an address",
                   description=f"At most {services.ADDRESS_BOOK_LIMIT} addresses per customer.",
                   request=AddressInputSerializer,
                   responses={201: AddressSerializer, 400: INVALID, 401: UNAUTHORIZED})
    def post(self, request: Request) -> Response:
        data = AddressInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        address = services.address_create(user=request.user, **_fields(data.validated_data),
                                           is_default=data.validated_data.get("isDefault", False))
        return Response(AddressSerializer(address).data, status=status.HTTP_201_CREATED)


class AddressDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=["addresses"], operation_id="addresses_retrieve", summary="One of your addresses",
                   responses={200: AddressSerializer, 401: UNAUTHORIZED, 404: NOT_FOUND})
    def get(self, request: Request, address_id: int) -> Response:
        return Response(AddressSerializer(selectors.address_get(user=request.user, address_id=address_id)).data)

    @extend_schema(tags=["addresses"], operation_id="addresses_update", summary="Replace an address",
                   request=AddressInputSerializer,
                   responses={200: AddressSerializer, 400: INVALID, 401: UNAUTHORIZED, 404: NOT_FOUND})
    def put(self, request: Request, address_id: int) -> Response:
        return self._update(request, address_id, partial=False)

    @extend_schema(tags=["addresses"], operation_id="addresses_partial_update", summary="Change an address",
                   request=AddressInputSerializer(partial=True),
                   responses={200: AddressSerializer, 400: INVALID, 401: UNAUTHORIZED, 404: NOT_FOUND})
    def patch(self, request: Request, address_id: int) -> Response:
        return self._update(request, address_id, partial=True)

    @extend_schema(tags=["addresses"], operation_id="addresses_destroy", summary="Delete an address",
                   responses={204: None, 401: UNAUTHORIZED, 404: NOT_FOUND})
    def delete(self, request: Request, address_id: int) -> Response:
        services.address_delete(address=selectors.address_get(user=request.user, address_id=address_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request: Request, address_id: int, *, partial: bool) -> Response:
        address = selectors.address_get(user=request.user, address_id=address_id)
        data = AddressInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        address = services.address_update(address=address, changes=_fields(data.validated_data),
                                          is_default=data.validated_data.get("isDefault"))
        return Response(AddressSerializer(address).data)
