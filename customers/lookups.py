"""Unique lookups on the chat's hot path, with Django's SQL for them built once per process and database.

Django builds a query's SQL anew on every call: for a wide model that is ~250 us of Python, where running the
SQL takes ~30 us (measured on SQLite; bench/load.py found the ORM's SQL building a quarter of a chat turn's CPU).
A lookup made on every turn (a conversation by its thread) keeps the SQL, the columns and the value converters
Django chose for it, and builds the model instance as a queryset would (``Model.from_db``).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from django.db import connections, models, router

M = TypeVar("M", bound=models.Model)
_PROBE = "\x00probe\x00"  # a value no real key holds: it marks where the looked-up value goes in the SQL


class UniqueLookup(Generic[M]):
    """``model.objects.get(field=value)`` for a unique ``field``, its SQL built once per database alias."""

    def __init__(self, model: type[M], field: str) -> None:
        self.model = model
        self.field = model._meta.get_field(field)
        if not self.field.unique:
            raise ValueError(f"{model.__name__}.{field} is not unique")
        self._compiled: dict[str, tuple[str, list[str], list[tuple[int, list[Any], Any]]]] = {}

    def _compile(self, alias: str) -> tuple[str, list[str], list[tuple[int, list[Any], Any]]]:
        queryset = self.model._default_manager.using(alias).filter(**{self.field.name: _PROBE}).order_by()[:2]
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        if list(params) != [_PROBE]:  # a field whose values Django rewrites before the query: not for this
            raise ValueError(f"{self.model.__name__}.{self.field.name}: unexpected parameters {params!r}")
        columns = [expression for expression, _, _ in compiler.select]
        attnames = [expression.target.attname for expression in columns]
        converters = [
            (position, convs, expression) for position, (convs, expression) in compiler.get_converters(columns).items()
        ]
        return sql, attnames, converters

    def get(self, value: Any) -> M:
        """The one row whose field equals ``value``; ``model.DoesNotExist`` when there is none."""
        alias = router.db_for_read(self.model)
        if alias not in self._compiled:
            self._compiled[alias] = self._compile(alias)
        sql, attnames, converters = self._compiled[alias]
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.field.get_db_prep_value(value, connection, prepared=False)])
            rows = cursor.fetchall()
        if not rows:
            raise self.model.DoesNotExist(f"{self.model.__name__} matching {self.field.name}={value!r} does not exist.")
        row = list(rows[0])
        for position, convs, expression in converters:
            for convert in convs:
                row[position] = convert(row[position], expression, connection)
        return self.model.from_db(alias, attnames, row)
