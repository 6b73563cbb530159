"""Pagination that keeps list bodies plain JSON arrays.

`?page=&pageSize=` select the page; the total goes in `X-Total-Count` and the neighbours in
an RFC 8288 `Link` header. Both take ASCII digits only (400 otherwise): Python's int() also
reads other scripts' digits ("٢", "２"), which DRF would take as a page, or as a page size.
"""
import re

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

_ASCII_NUMBER = re.compile(r"[0-9]+", re.ASCII)


class HeaderPagination(PageNumberPagination):
    page_query_param = "page"
    page_size_query_param = "pageSize"
    max_page_size = 100

    def paginate_queryset(self, queryset, request, view=None):
        self._refuse_other_digits(request)
        return super().paginate_queryset(queryset, request, view)

    def _refuse_other_digits(self, request) -> None:
        errors = {}
        page = request.query_params.get(self.page_query_param)
        if page is not None and not (_ASCII_NUMBER.fullmatch(page) or page in self.last_page_strings):
            errors[self.page_query_param] = ["A page number in ASCII digits (0-9) is required."]
        size = request.query_params.get(self.page_size_query_param)
        if size is not None and not _ASCII_NUMBER.fullmatch(size):
            errors[self.page_size_query_param] = ["A page size in ASCII digits (0-9) is required."]
        if errors:
            raise ValidationError(errors)

    def get_paginated_response(self, data: list) -> Response:
        response = Response(data)
        response["X-Total-Count"] = str(self.page.paginator.count)
        links = []
        if self.page.has_next():
            links.append(f'<{self.get_next_link()}>; rel="next"')
        if self.page.has_previous():
            links.append(f'<{self.get_previous_link()}>; rel="prev"')
        last_page = self.page.paginator.num_pages
        request_url = self.request.build_absolute_uri()
        links.append(f'<{replace_query_param(request_url, self.page_query_param, 1)}>; rel="first"')
        links.append(f'<{replace_query_param(request_url, self.page_query_param, last_page)}>; rel="last"')
        response["Link"] = ", ".join(links)
        return response

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {"type": "array", "items": schema.get("items", schema)}
