from django import forms
from django.contrib import admin

from .models import Membership, SignUp, Tenant
from .services import validate_tenant_slug


class TenantAdminForm(forms.ModelForm):
    """Hold operators to the slugs `create_tenant` accepts (the model's SlugField is looser)."""

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        validate_tenant_slug(slug)
        return slug


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    form = TenantAdminForm
    list_display = ["slug", "name", "is_active", "default_model", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["slug", "name", "=id"]
    readonly_fields = ["id", "created_at", "updated_at"]
    fields = ["id", "slug", "name", "is_active", "default_model", "created_at", "updated_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "user__username", "tenant__slug", "tenant__name"]
    list_select_related = ["user", "tenant"]
    autocomplete_fields = ["user", "tenant"]


@admin.register(SignUp)
class SignUpAdmin(admin.ModelAdmin):
    """Self sign-ups and whether their address is confirmed. Deleting one leaves its account and tenant."""

    list_display = ["user", "tenant", "created_at", "confirmed_at"]
    list_filter = [("confirmed_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__email", "tenant__slug"]
    list_select_related = ["user", "tenant"]
    readonly_fields = ["id", "user", "tenant", "created_at", "confirmed_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
