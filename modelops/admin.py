from django.contrib import admin

from modelops.models import ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("version_name", "source", "is_current", "accuracy", "loss", "sampler_name", "created_at")
    list_filter = ("is_current",)
    readonly_fields = ("created_at",)
