from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from appgroups.models import AppGroup, Membership, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(AppGroup)
class AppGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "default_country", "created_at"]
    search_fields = ["name"]
    # Changed on Workspace Settings only: that service also re-reads the stored phone numbers.
    readonly_fields = ["default_country"]
    inlines = [MembershipInline]
