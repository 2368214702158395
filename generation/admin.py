from django.contrib import admin

from generation.models import GeneratedImage, GenerationJob


class GeneratedImageInline(admin.TabularInline):
    model = GeneratedImage
    extra = 0
    fields = ("file", "seed", "visibility", "realism_score", "alignment_score", "scores")
    readonly_fields = ("file", "seed")


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "status", "progress", "model_version", "attempts", "created_at", "finished_at")
    list_filter = ("status", "model_version")
    search_fields = ("prompt__text_content", "user__username")
    readonly_fields = ("preview", "created_at", "started_at", "finished_at")
    list_select_related = ("user", "model_version")
    inlines = [GeneratedImageInline]


@admin.register(GeneratedImage)
class GeneratedImageAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "job", "seed", "visibility", "realism_score", "alignment_score", "created_at")
    list_filter = ("visibility", "model_version")
    search_fields = ("prompt__text_content", "user__username")
    list_select_related = ("user", "job")
