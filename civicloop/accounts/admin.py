from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from civicloop.accounts.models import User


@admin.register(User)
class PersonAdmin(UserAdmin):
    ordering = ("full_name",)
    list_display = ("full_name", "email", "organization", "is_org_admin", "is_active")
    list_filter = ("organization", "is_org_admin", "is_active", "is_superuser")
    search_fields = ("full_name", "email")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("full_name", "job_title", "organization", "is_org_admin")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"fields": ("email", "full_name", "organization", "password1", "password2")}),
    )
