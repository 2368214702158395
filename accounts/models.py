"""Users: a custom user model from the start, with a display name, an email and a role (user or admin)."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    class Role(models.TextChoices):
        USER = "user", "User"
        ADMIN = "admin", "Admin"

    name = models.CharField(max_length=150, blank=True)
    email = models.EmailField(unique=True, null=True, blank=True)  # unique when given; NULLs never collide
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.USER)
    # per-user quotas; empty means the studio's default (T2I_QUOTA_*), which staff can raise here in the admin
    quota_active_jobs = models.PositiveIntegerField(null=True, blank=True, help_text="queued + running jobs")
    quota_images_per_day = models.PositiveIntegerField(null=True, blank=True, help_text="images in any 24 hours")
    quota_stored_bytes = models.PositiveBigIntegerField(null=True, blank=True, help_text="bytes of stored images")

    @property
    def display_name(self) -> str:
        return self.name or self.username

    def __str__(self) -> str:
        return self.username


class ApiKey(models.Model):
    """A named API key. Only its SHA-256 digest is stored: the key is shown once, when it is made.

    Keys carry 256 random bits, so a fast digest is safe to store (unlike passwords, nothing to brute-force);
    the short public `prefix` lets a person tell their keys apart on the account page.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}...)"
