from django.contrib import admin
from django.urls import include, path

from .middleware import OPS_ENDPOINTS

admin.site.site_header = "Sinatra control plane"
admin.site.site_title = "Sinatra"
admin.site.index_title = "Tenants, people and model credentials"

urlpatterns = [
    # /healthz, /readyz, /metrics: usually answered by OpsEndpointsMiddleware before these are reached.
    *(path(name, view, name=name) for name, view in OPS_ENDPOINTS.items()),
    path("admin/", admin.site.urls),
    path("", include("routing.urls")),
    path("", include("console.urls")),
]
