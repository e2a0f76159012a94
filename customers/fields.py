"""Model fields that keep stored times on the app's clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models

from customers import clock


class ClockDateTimeField(models.DateTimeField):
    """A ``DateTimeField`` whose ``auto_now``/``auto_now_add`` read ``customers.clock`` instead of Django's own
    ``timezone.now()``, so a stored time and the rules' calendar never disagree (a demo or test on another day)."""

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        """``auto_now_add`` keeps a time set before the first save: a record written after the moment it describes
        (a click stored with the turn it started, chat.turns) carries that moment."""
        if self.auto_now or (self.auto_now_add and add):
            value: datetime | None = None if self.auto_now else getattr(model_instance, self.attname)
            if value is None:
                value = clock.now()
                setattr(model_instance, self.attname, value)
            return value
        return super().pre_save(model_instance, add)
