"""Model versions (a mirror of the MLflow Model Registry), the audit trail of every change, and A/B arena matches.

The registry is the source of truth for versions and aliases; `ModelVersion` mirrors it (kept in sync by
`manage.py sync_models` and by the promotion services) so that pages, the API and job validation never
need MLflow or torch. `is_current` is the mirror of the `champion` alias: the version a request gets when
it names none.
"""

from django.conf import settings
from django.db import models


class ModelVersion(models.Model):
    version_name = models.CharField(max_length=100, unique=True)  # what the API's "model" field names
    # a bundled name (ml_engine/weights/<name>), a folder, or "registry:<model>/<version>" (fetched, hash-checked)
    source = models.CharField(max_length=500)
    accuracy = models.FloatField(null=True, blank=True)  # alignment "overall" from the evaluator, 0..1
    loss = models.FloatField(null=True, blank=True)  # final training loss
    created_at = models.DateTimeField(auto_now_add=True)
    is_current = models.BooleanField(default=False)  # holds the champion alias: used when a request names none
    # read from the pipeline at registration, so the web process validates sizes without loading torch
    supported_sizes = models.JSONField(default=list)  # [[width, height], ...]
    default_steps = models.PositiveSmallIntegerField(default=20)
    default_guidance = models.FloatField(default=4.0)
    sampler_name = models.CharField(max_length=200, blank=True)  # the bundled diffusion model's label has 80
    # the samplers a request may name, as AUTOMATIC1111 names them (ml_engine/samplers.py), the default first;
    # empty for a model that draws in one pass (the GAN)
    samplers = models.JSONField(default=list, blank=True)
    # the words it knows, grouped for the prompt guide (ml_engine/data/vocabulary.py); {}: an open vocabulary
    vocabulary = models.JSONField(default=dict, blank=True)
    # the MLflow Model Registry side; empty for a version that was never registered
    registry_name = models.CharField(max_length=200, blank=True)
    registry_version = models.PositiveIntegerField(null=True, blank=True)
    aliases = models.JSONField(default=list, blank=True)  # ["champion"], ["challenger"], ...
    run_id = models.CharField(max_length=64, blank=True)  # the MLflow run that trained (or registered) it
    run_url = models.CharField(max_length=500, blank=True)  # a link to that run in the MLflow UI, when known
    artifact_sha256 = models.CharField(max_length=64, blank=True)  # workers refuse a fetched copy that differs
    alignment = models.JSONField(default=dict, blank=True)  # per category (and "overall"), latest evaluation
    evaluated_at = models.DateTimeField(null=True, blank=True)
    fid = models.FloatField(null=True, blank=True)  # distribution metrics, when an evaluation computed them
    kid = models.FloatField(null=True, blank=True)
    inception_score = models.FloatField(null=True, blank=True)
    precision = models.FloatField(null=True, blank=True)
    recall = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-is_current", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_current"], condition=models.Q(is_current=True), name="one_current"),
            models.UniqueConstraint(
                fields=["registry_name", "registry_version"],
                condition=models.Q(registry_version__isnull=False),
                name="one_row_per_registry_version",
            ),
        ]

    def supports(self, width: int, height: int) -> bool:
        return [width, height] in [list(size) for size in self.supported_sizes]

    @property
    def sizes_label(self) -> str:
        return ", ".join(f"{w}x{h}" for w, h in self.supported_sizes)

    @property
    def is_registered(self) -> bool:
        return self.registry_version is not None

    @property
    def category_scores(self) -> list[tuple[str, float]]:
        return [(k, v) for k, v in self.alignment.items() if k != "overall"]

    def __str__(self) -> str:
        return self.version_name


class ModelChange(models.Model):
    """One line of the audit trail: who changed which alias, when, from what to what, why, and the gate's verdict."""

    class Action(models.TextChoices):
        PROMOTE = "promote", "Promoted to champion"
        REFUSED = "refused", "Promotion refused by the gate"
        ROLLBACK = "rollback", "Rolled back"
        BOOTSTRAP = "bootstrap", "Registered at bootstrap"
        EVALUATE = "evaluate", "Evaluated"
        SYNC = "sync", "Synced from the registry"
        REGISTER = "register", "Registered a model folder"  # a new version; no alias moved

    action = models.CharField(max_length=20, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    from_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)
    forced = models.BooleanField(default=False)  # promoted although the gate failed
    gate = models.JSONField(default=dict, blank=True)  # {"passed", "margin", "failing": {category: {...}}, ...}
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action}: {self.from_version} -> {self.to_version}"


def arena_upload_to(match: "ArenaMatch", filename: str) -> str:
    return f"arena/{match.user_id}/{filename}"


class ArenaMatch(models.Model):
    """A blind comparison: one prompt and seed, champion and challenger side by side in random order."""

    class Status(models.TextChoices):
        RENDERING = "rendering", "Rendering"
        READY = "ready", "Ready"
        VOTED = "voted", "Voted"
        FAILED = "failed", "Failed"

    class Choice(models.TextChoices):
        LEFT = "left", "Left"
        RIGHT = "right", "Right"
        TIE = "tie", "Tie"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="arena_matches")
    champion = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    challenger = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    prompt = models.CharField(max_length=300)
    seed = models.BigIntegerField()
    steps = models.PositiveSmallIntegerField(default=20)
    champion_on_left = models.BooleanField()  # drawn at random; never shown to the voter
    left_image = models.FileField(upload_to=arena_upload_to, blank=True)
    right_image = models.FileField(upload_to=arena_upload_to, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RENDERING)
    choice = models.CharField(max_length=5, choices=Choice.choices, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    voted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def winner(self) -> str:
        """ "champion", "challenger" or "tie" once voted, else ""."""
        if self.choice == self.Choice.TIE:
            return "tie"
        if not self.choice:
            return ""
        return "champion" if (self.choice == self.Choice.LEFT) == self.champion_on_left else "challenger"

    def __str__(self) -> str:
        return f"arena {self.pk}: {self.champion} vs {self.challenger}"
