"""Text prompts: what a user asked for, with every generation parameter needed to reproduce it."""

from django.conf import settings
from django.db import models

PROMPT_MAX_LENGTH = 500


class TextPrompt(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prompts")
    text_content = models.CharField(max_length=PROMPT_MAX_LENGTH)
    negative_prompt = models.CharField(max_length=PROMPT_MAX_LENGTH, blank=True)
    seed = models.BigIntegerField()  # always concrete: a random one is drawn at creation, so re-runs reproduce
    steps = models.PositiveSmallIntegerField()
    guidance = models.FloatField()
    width = models.PositiveSmallIntegerField()
    height = models.PositiveSmallIntegerField()
    num_images = models.PositiveSmallIntegerField(default=1)
    sampler = models.CharField(max_length=40, blank=True)  # an A1111 sampler name; blank for a one-pass model
    model_version = models.ForeignKey("modelops.ModelVersion", on_delete=models.PROTECT, related_name="prompts")
    timestamp = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-timestamp"]
        indexes = [models.Index(fields=["user", "-timestamp"])]

    def __str__(self) -> str:
        return self.text_content[:60]
