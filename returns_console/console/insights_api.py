"""The insights endpoints for supervisors: every table as JSON, and each one as CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse

from chat.http import error, require_GET
from customers.errors import InvalidRequest
from customers.services.authority import is_supervisor
from returns_console.console.api import staff_only
from returns_console.console.insights import MAX_QUERY_KEY, TABLES, Period, csv_rows, drill, insights, period_from

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet would run as a formula


def _period(request: HttpRequest) -> Period:
    return period_from(request.GET.get("from") or None, request.GET.get("to") or None)


async def _opened(request: HttpRequest, table: str | None = None) -> JsonResponse | Period:
    """What every insights endpoint checks first: a supervisor, a table that exists, a readable period."""
    if not await sync_to_async(is_supervisor)(request.staff):  # type: ignore[attr-defined]  # reads permissions
        return error(403, "supervisors_only", "Insights are for supervisors.")
    if table is not None and table not in TABLES:
        return error(404, "not_found", f"No insights table is called {table[:60]!r}; there are: {', '.join(TABLES)}.")
    try:
        return _period(request)
    except InvalidRequest as bad:
        return error(400, bad.code, bad.message)


@require_GET
@staff_only
async def insights_json(request: HttpRequest) -> JsonResponse:
    period = await _opened(request)
    if not isinstance(period, Period):
        return period
    return JsonResponse(await sync_to_async(insights)(period))


def _cell(value: Any) -> Any:
    """Text a spreadsheet would take for a formula (a customer's words, an agent's name) is kept as text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


@require_GET
@staff_only
async def insights_csv(request: HttpRequest, table: str) -> HttpResponse:
    period = await _opened(request, table)
    if not isinstance(period, Period):
        return period
    built = await sync_to_async(TABLES[table])(period)
    out = io.StringIO()
    writer = csv.writer(out)
    for row in csv_rows(built):
        writer.writerow([_cell(value) for value in row])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    name = f"insights-{table}-{period.first.isoformat()}-{period.last.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_GET
@staff_only
async def insights_drill(request: HttpRequest, table: str) -> JsonResponse:
    """The proposals or conversations behind one bar or row (``key``: the row's first column)."""
    period = await _opened(request, table)
    if not isinstance(period, Period):
        return period
    key = request.GET.get("key", "")
    if not key or len(key) > MAX_QUERY_KEY or "\x00" in key:
        return error(400, "invalid_request", f'"key" is the row to open: text of 1 to {MAX_QUERY_KEY} characters.')
    return JsonResponse({"table": table, "key": key, "items": await sync_to_async(drill)(table, key, period)})
