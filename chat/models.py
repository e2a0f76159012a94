"""Customer feedback on the assistant's answers (thumbs up/down), reviewed by admins."""

from __future__ import annotations

from django.db import models


class Feedback(models.Model):
    class Kind(models.TextChoices):
        POSITIVE = "positive", "Thumbs up"
        NEGATIVE = "negative", "Thumbs down"

    customer_id = models.CharField(max_length=64, db_index=True)
    thread_id = models.CharField(max_length=64, db_index=True)
    item_ids = models.JSONField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name_plural = "feedback"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.thread_id}"
