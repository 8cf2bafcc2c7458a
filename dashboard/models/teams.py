"""Teams: the people who own a queue of errors."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="error_desk_teams")

    def __str__(self) -> str:
        return self.name
