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

    @property
    def display_name(self) -> str:
        return self.name or self.username

    def __str__(self) -> str:
        return self.username
