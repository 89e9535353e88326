from django.urls import path, re_path

from . import api, api_fallback

urlpatterns = [
    path("api/v1/resolve", api.resolve_view, name="api-resolve"),
    path("api/v1/openapi.json", api.openapi_view, name="api-openapi"),
    re_path(r"^api/v1(?:/(?P<rest>.*))?$", api_fallback.unknown_endpoint),
]
