from django.contrib import admin

from prompts.models import TextPrompt


@admin.register(TextPrompt)
class TextPromptAdmin(admin.ModelAdmin):
    list_display = ("text_content", "user", "model_version", "steps", "guidance", "seed", "timestamp")
    search_fields = ("text_content", "user__username")
    list_select_related = ("user", "model_version")
