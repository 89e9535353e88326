from django.contrib import admin

from credentials.admin import ReadOnlyAdmin

from .models import ServiceToken


@admin.register(ServiceToken)
class ServiceTokenAdmin(ReadOnlyAdmin):
    """Tokens are created and revoked with the management commands; the admin only lists them."""

    list_display = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    fields = readonly_fields = (
        "name",
        "prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
