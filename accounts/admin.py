from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "name", "email", "role", "is_staff", "date_joined")
    list_filter = ("role", "is_staff", "is_active")
    fieldsets = DjangoUserAdmin.fieldsets + (
        ("Studio", {"fields": ("name", "role")}),
        (
            "Quotas (empty: the studio's defaults)",
            {"fields": ("quota_active_jobs", "quota_images_per_day", "quota_stored_bytes")},
        ),
    )
