"""What an A1111 client has set for itself: the checkpoint its requests get when they name none
(POST /sdapi/v1/options {"sd_model_checkpoint": ...}), as A1111 keeps one loaded model per server."""

from django.conf import settings
from django.db import models


class ClientSettings(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="client_settings")
    # None: the champion, whichever version that is at the time of the request
    checkpoint = models.ForeignKey("modelops.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user}: {self.checkpoint or 'the champion'}"
