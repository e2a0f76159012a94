"""Unique lookups on the chat's hot path, with Django's SQL for them built once per process and database.

Django builds a query's SQL anew on every call: for a wide model that is ~250 us of Python, where running the
SQL takes ~30 us (measured on SQLite; bench/load.py found the ORM's SQL building a quarter of a chat turn's CPU).
A lookup made on every turn (a conversation by its thread) or for every decision and its announcements (a
proposal with who decided it: three joins, ~0.8 ms to build) keeps the SQL, the columns and the value
converters Django chose for it, and builds the instances as a queryset would (``Model.from_db``, and Django's
related populators for ``select_related``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import connections, models, router
from django.db.models.query import get_related_populators

M = TypeVar("M", bound=models.Model)
# Values no real key holds: they mark where the looked-up value goes in the SQL (a number for a numeric key).
_PROBE = "\x00probe\x00"
_NUMERIC_PROBE = -7_340_032_130_815


@dataclass(frozen=True)
class _Compiled:
    sql: str
    attnames: list[str]  # the model's columns, in the order of the row's slice [start:end]
    start: int
    end: int
    converters: list[tuple[int, list[Any], Any]]
    populators: list[Any]  # Django's RelatedPopulator for each select_related relation


class UniqueLookup(Generic[M]):
    """``model.objects.select_related(*select_related).get(field=value)`` for a unique ``field``, its SQL built
    once per database alias."""

    def __init__(self, model: type[M], field: str, select_related: tuple[str, ...] = ()) -> None:
        self.model = model
        self.field = model._meta.get_field(field)
        if not self.field.unique:
            raise ValueError(f"{model.__name__}.{field} is not unique")
        self.select_related = select_related
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, alias: str) -> _Compiled:
        probe = _NUMERIC_PROBE if isinstance(self.field, models.IntegerField) else _PROBE
        queryset = self.model._default_manager.using(alias).filter(**{self.field.name: probe}).order_by()[:2]
        if self.select_related:
            queryset = queryset.select_related(*self.select_related)
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        if list(params) != [probe]:  # a field whose values Django rewrites before the query: not for this
            raise ValueError(f"{self.model.__name__}.{self.field.name}: unexpected parameters {params!r}")
        # As Django's ModelIterable reads a row: the model's own columns, then each related model's.
        select, klass_info = compiler.select, compiler.klass_info
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        columns = [expression for expression, _, _ in select]
        converters = [
            (position, convs, expression) for position, (convs, expression) in compiler.get_converters(columns).items()
        ]
        return _Compiled(
            sql=sql,
            attnames=[expression.target.attname for expression in columns[start:end]],
            start=start,
            end=end,
            converters=converters,
            populators=get_related_populators(klass_info, select, alias),
        )

    def get(self, value: Any) -> M:
        """The one row whose field equals ``value``; ``model.DoesNotExist`` when there is none."""
        alias = router.db_for_read(self.model)
        if alias not in self._compiled:
            self._compiled[alias] = self._compile(alias)
        compiled = self._compiled[alias]
        connection = connections[alias]
        prepared = self.field.get_db_prep_value(value, connection, prepared=False)
        rows = self._rows(compiled.sql, prepared, connection) if self._in_range(prepared, connection) else []
        if not rows:
            raise self.model.DoesNotExist(f"{self.model.__name__} matching {self.field.name}={value!r} does not exist.")
        row = list(rows[0])
        for position, convs, expression in compiled.converters:
            for convert in convs:
                row[position] = convert(row[position], expression, connection)
        found = self.model.from_db(alias, compiled.attnames, row[compiled.start : compiled.end])
        for populator in compiled.populators:
            populator.populate(row, found)
        return found

    def _in_range(self, prepared: Any, connection: Any) -> bool:
        """A number the column cannot hold matches nothing (the ORM's lookups say so too; the driver would raise)."""
        if not isinstance(self.field, models.IntegerField) or prepared is None:
            return True
        low, high = connection.ops.integer_field_range(self.field.get_internal_type())
        return (low is None or prepared >= low) and (high is None or prepared <= high)

    @staticmethod
    def _rows(sql: str, prepared: Any, connection: Any) -> list[Any]:
        with connection.cursor() as cursor:
            cursor.execute(sql, [prepared])
            return cursor.fetchall()
