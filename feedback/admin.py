from django.contrib import admin

from feedback.models import Feedback


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ("image", "user", "rating", "comment", "updated_at")
    list_filter = ("rating",)
    search_fields = ("comment", "user__username")
    list_select_related = ("user", "image")
