"""Admin: versions with promote / rollback / evaluate / sync actions (the same services as the staff page),
the read-only audit trail and arena matches."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from modelops import services
from modelops.models import ArenaMatch, ModelChange, ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = (
        "version_name",
        "registry_version",
        "aliases",
        "is_current",
        "accuracy",
        "loss",
        "evaluated_at",
        "created_at",
    )
    list_filter = ("is_current", "registry_name")
    readonly_fields = ("created_at", "registry_name", "registry_version", "aliases", "artifact_sha256", "run_id")
    actions = ["promote_to_champion", "evaluate", "rollback_champion", "sync_from_registry"]

    @admin.action(description="Promote to champion (through the evaluation gate)")
    def promote_to_champion(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to promote.", messages.ERROR)
            return
        version = queryset.get()
        try:
            services.model_version_promote(version=version, actor=request.user, reason="admin action")
            self.message_user(request, f"{version} is now the champion.", messages.SUCCESS)
        except services.PromotionRefused as refused:
            failing = ", ".join(refused.gate.failing)
            self.message_user(
                request, f"Refused by the gate ({failing}); force it with a reason on /modelops/.", messages.ERROR
            )
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)

    @admin.action(description="Roll the champion back to the previous one")
    def rollback_champion(self, request, queryset):
        try:
            change = services.model_version_rollback(actor=request.user, reason="admin action")
            self.message_user(request, f"{change.to_version} is the champion again.", messages.SUCCESS)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)

    @admin.action(description="Evaluate (queued on the workers)")
    def evaluate(self, request, queryset):
        for version in queryset:
            services.model_version_evaluation_request(version=version)
        self.message_user(request, f"Queued {queryset.count()} evaluation(s).", messages.INFO)

    @admin.action(description="Sync every version from the MLflow registry")
    def sync_from_registry(self, request, queryset):
        created = services.model_version_sync(actor=request.user)
        self.message_user(request, f"{len(created)} new version(s) mirrored.", messages.INFO)


@admin.register(ModelChange)
class ModelChangeAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "actor", "from_version", "to_version", "forced", "reason")
    list_filter = ("action", "forced")

    def has_add_permission(self, request):
        return False  # the audit trail is written by the services only

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ArenaMatch)
class ArenaMatchAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "champion", "challenger", "status", "choice")
    list_filter = ("status",)
