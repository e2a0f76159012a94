"""Celery tasks of the customers app. Thin: parse, call the service, announce, decide on retry."""

from __future__ import annotations

import logging
import random
from typing import Any

from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.cosmos.exceptions import CosmosHttpResponseError
from celery import Task, shared_task

from customers.cosmos.runner import process_repository
from customers.errors import ConcurrencyConflict, ReturnsError
from customers.services import commit_progress
from customers.services.commit import commit_return, parse_approved_return
from customers.signals import return_commit_failed, return_committed

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
# Cosmos answers these when a retry can succeed: throttled, timed out, unavailable, retry-with.
TRANSIENT_STATUS = {408, 429, 449, 500, 502, 503, 504}


def retry_delay(retries: int) -> float:
    """Exponential backoff with full jitter: 1, 2, 4, 8, 16 s ceilings."""
    return random.uniform(0.5, float(2**retries))


def _is_transient(error: Exception) -> bool:
    if isinstance(error, (ConcurrencyConflict, ServiceRequestError, ServiceResponseError, OSError)):
        return True
    return isinstance(error, CosmosHttpResponseError) and error.status_code in TRANSIENT_STATUS


@shared_task(
    bind=True, name="customers.commit_return", acks_late=True, reject_on_worker_lost=True, max_retries=MAX_RETRIES
)
def commit_return_task(self: Task, payload: dict[str, Any]) -> dict[str, Any]:
    """Commit an approved return; safe to run any number of times for the same approval."""
    approval_id = str(payload.get("approval_id", "")) if isinstance(payload, dict) else ""
    try:
        approved = parse_approved_return(payload)
        commit_progress.mark_committing(approved.approval_id)
        result = process_repository.run(lambda repo: commit_return(repo, approved))
    except ReturnsError as error:
        if isinstance(error, ConcurrencyConflict) and self.request.retries < MAX_RETRIES:
            raise self.retry(exc=error, countdown=retry_delay(self.request.retries)) from error
        return _failed(approval_id, error.code, error.message)
    except Exception as error:
        if _is_transient(error) and self.request.retries < MAX_RETRIES:
            logger.warning("commit %s: transient error, retrying: %s", approval_id, error)
            raise self.retry(exc=error, countdown=retry_delay(self.request.retries)) from error
        logger.exception("commit %s failed", approval_id)
        return _failed(approval_id, "commit_failed", f"The commit failed: {type(error).__name__}.")
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    commit_progress.mark_committed(approved.approval_id, result.record.return_id, redelivered=redelivered)
    return_committed.send(sender=None, record=result.record, approval_id=approved.approval_id, created=result.created)
    return {"status": "committed", "return_id": result.record.return_id, "created": result.created}


def _failed(approval_id: str, code: str, message: str) -> dict[str, Any]:
    commit_progress.mark_failed(approval_id, code, message)
    return_commit_failed.send(sender=None, approval_id=approval_id, code=code, message=message)
    return {"status": "failed", "approval_id": approval_id, "code": code, "message": message}
