from django.urls import path

from . import api

urlpatterns = [
    path("api/v1/resolve", api.resolve_view, name="api-resolve"),
    path("api/v1/openapi.json", api.openapi_view, name="api-openapi"),
]
