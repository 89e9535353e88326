from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Sinatra control plane"
admin.site.site_title = "Sinatra"
admin.site.index_title = "Tenants, people and model credentials"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("routing.urls")),
    path("", include("console.urls")),
]
