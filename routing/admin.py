from django.contrib import admin

from credentials.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import AliasPin, KeyRelease, PolicyEvent, ServiceToken, ServiceTokenEvent, TenantPolicy


class ServiceTokenEventInline(ReadOnlyInline):
    model = ServiceTokenEvent
    fields = readonly_fields = ("created_at", "kind", "actor", "tenant", "detail")


@admin.register(ServiceToken)
class ServiceTokenAdmin(ReadOnlyAdmin):
    """Tokens are created and revoked with the management commands; the admin only lists them."""

    list_display = ["name", "prefix", "scope_display", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter), ("expires_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "tenants__slug"]
    fields = readonly_fields = (
        "name",
        "prefix",
        "scope_display",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    inlines = [ServiceTokenEventInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tenants")

    @admin.display(description="scope")
    def scope_display(self, token: ServiceToken) -> str:
        return token.scope_label()


@admin.register(ServiceTokenEvent)
class ServiceTokenEventAdmin(ReadOnlyAdmin):
    """Who created or revoked which token, and the requests tokens were refused for their scope."""

    list_display = ["created_at", "token", "kind", "actor", "tenant", "detail"]
    list_filter = ["kind", ("tenant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["token__name", "token__prefix", "actor", "detail", "tenant__slug"]
    list_select_related = ["token", "tenant"]
    date_hierarchy = "created_at"
    fields = readonly_fields = ("created_at", "token", "kind", "actor", "tenant", "detail")


@admin.register(KeyRelease)
class KeyReleaseAdmin(ReadOnlyAdmin):
    """Who received which tenant's key, counted by the hour (UTC); written by routing.release."""

    list_display = ["hour", "tenant", "provider", "caller", "count", "last_released_at"]
    list_filter = ["provider", "caller", ("tenant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["tenant__slug", "tenant__name", "caller"]
    list_select_related = ["tenant"]
    date_hierarchy = "hour"
    fields = readonly_fields = ("hour", "tenant", "provider", "caller", "count", "last_released_at")


class AliasPinInline(ReadOnlyInline):
    model = AliasPin
    fields = readonly_fields = ("alias", "model")


@admin.register(TenantPolicy)
class TenantPolicyAdmin(ReadOnlyAdmin):
    """Policies change through the console (/t/<slug>/policy/) or `tenant_policy`, which write events."""

    list_display = ["tenant", "providers", "model_patterns", "updated_at"]
    search_fields = ["tenant__slug", "tenant__name"]
    list_select_related = ["tenant"]
    fields = readonly_fields = ("tenant", "providers", "model_patterns", "updated_at")
    inlines = [AliasPinInline]


@admin.register(PolicyEvent)
class PolicyEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "tenant", "actor", "before", "after"]
    list_filter = [("tenant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["tenant__slug", "tenant__name", "actor"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"
    fields = readonly_fields = ("created_at", "tenant", "actor", "before", "after")
