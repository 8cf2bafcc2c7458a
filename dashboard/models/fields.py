"""Columns holding Celigo's text: stored with NUL escaped (``dashboard/lib/text.py``), read back exactly as
Celigo sent it.

Each field deconstructs as the plain Django field it extends: the database column is the same, so no
migration changes, and the historical models of migrations see the stored (escaped) text.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from dashboard.lib.text import ESCAPE, clean_json, escape_text, needs_escape, restore_json, restore_text


class EscapedTextMixin:
    """Escapes on the way in (values, lookups), restores on the way out; bounded columns keep the first
    ``max_length`` characters of the escaped text (the raw JSON keeps the whole value)."""

    plain_path: str
    max_length: int | None

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)  # type: ignore[misc]
        if isinstance(value, str):
            value = clean_text_value(value, self.max_length)
        return value

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return restore_text(value) if isinstance(value, str) else value

    def deconstruct(self) -> Any:
        name, _, args, kwargs = super().deconstruct()  # type: ignore[misc]
        return name, self.plain_path, args, kwargs


def clean_text_value(value: str, limit: int | None) -> str:
    text = escape_text(value)
    return text[:limit] if limit else text


class CeligoCharField(EscapedTextMixin, models.CharField):
    plain_path = "django.db.models.CharField"


class CeligoTextField(EscapedTextMixin, models.TextField):
    plain_path = "django.db.models.TextField"


class CeligoJSONField(models.JSONField):
    """Celigo's whole JSON object: every string and key escaped in storage, restored when read."""

    def get_prep_value(self, value: Any) -> Any:
        if value is not None and needs_escape(value):
            value = clean_json(value)
        return super().get_prep_value(value)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        # PostgreSQL returns the escape character as itself, SQLite as Django's ASCII-only JSON escape.
        escaped = isinstance(value, str) and (ESCAPE in value or "\\udbff\\udffd" in value)
        value = super().from_db_value(value, expression, connection)
        return restore_json(value) if escaped else value

    def deconstruct(self) -> Any:
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs
