"""Reads whose SQL is compiled once per thread: the few reads that every catalog request makes.

Django builds and compiles a queryset's SQL anew each time it is evaluated, which costs several
times what SQLite or PostgreSQL take to answer a small read of a few rows. A `PreparedRead`
compiles its queryset once per thread and database connection, then only executes it. One read
gives both the digest of what was read (a key of store.fragments: the database's values, of
which the model's are a function) and, only when a page is rendered, the model instances, so
the two always come from the same read.

A parameter is the value of an exact lookup (e.g. `public_id=`), passed to the database as
given; a lookup that rewrites its value (`iexact`, `contains`) cannot be one.
"""
import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators


@dataclass(frozen=True)
class _Statement:
    connection: Any  # the DatabaseWrapper it was compiled for (one per thread)
    sql: str
    params: tuple
    slots: dict[str, tuple[int, ...]]  # parameter name → its positions in params
    converters: tuple  # (position, converters, expression), as SQLCompiler.get_converters
    model: type[Model]
    columns: slice  # the model's own columns in a row
    attnames: tuple[str, ...]
    populators: tuple  # select_related objects (django.db.models.query.RelatedPopulator)


class Rows:
    """What one execution read: `rows`, the database's values as they came (the ORM's converters
    are applied when objects are made), in the queryset's order."""

    def __init__(self, statement: _Statement, rows: list[tuple]) -> None:
        self._statement = statement
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def digest(self, rows: list[tuple] | None = None) -> str:
        """Changes with any value of `rows` (by default all read; a statement's rows have fixed columns)."""
        return hashlib.sha256(repr(self.rows if rows is None else rows).encode()).hexdigest()

    def objects(self, rows: list[tuple] | None = None) -> list[Model]:
        """The model instances (with their select_related objects) of `rows`, by default all read."""
        statement = self._statement
        connection = statement.connection
        instances = []
        for row in self.rows if rows is None else rows:
            if statement.converters:  # as SQLCompiler.apply_converters
                row = list(row)
                for position, convs, expression in statement.converters:
                    value = row[position]
                    for converter in convs:
                        value = converter(value, expression, connection)
                    row[position] = value
            instance = statement.model.from_db(statement.connection.alias, statement.attnames, row[statement.columns])
            for populator in statement.populators:
                populator.populate(row, instance)
            instances.append(instance)
        return instances


class PreparedRead:
    """`build(**parameters)`'s queryset, compiled once per thread; `read(**values)` runs it."""

    def __init__(self, build: Callable[..., QuerySet], *parameters: str, using: str = DEFAULT_DB_ALIAS) -> None:
        self._build = build
        self._parameters = parameters
        self._using = using
        self._local = threading.local()

    def _compile(self, connection) -> _Statement:
        marks = {name: f"prepared-{secrets.token_hex(16)}" for name in self._parameters}
        compiler = self._build(**marks).query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        slots = {name: tuple(i for i, param in enumerate(params) if param == mark) for name, mark in marks.items()}
        if not all(slots.values()) or any(mark in sql for mark in marks.values()):
            raise ValueError(f"{', '.join(self._parameters)}: each must be an exact lookup's value")
        klass_info, select = compiler.klass_info, compiler.select
        fields = klass_info["select_fields"]
        converters = compiler.get_converters([column for column, _, _ in select])
        return _Statement(
            connection=connection, sql=sql, params=tuple(params), slots=slots,
            converters=tuple((position, tuple(convs), expression) for position, (convs, expression)
                             in converters.items()),
            model=klass_info["model"], columns=slice(fields[0], fields[-1] + 1),
            attnames=tuple(column.target.attname for column, _, _ in select[fields[0]:fields[-1] + 1]),
            populators=tuple(get_related_populators(klass_info, select, connection.alias)),
        )

    def _statement(self) -> _Statement:
        connection = connections[self._using]
        statement = getattr(self._local, "statement", None)
        if statement is None or statement.connection is not connection:
            statement = self._local.statement = self._compile(connection)
        return statement

    def read(self, **values: Any) -> Rows:
        statement = self._statement()
        params = list(statement.params)
        for name, positions in statement.slots.items():
            for position in positions:
                params[position] = values[name]
        with statement.connection.cursor() as cursor:
            cursor.execute(statement.sql, params)
            return Rows(statement, cursor.fetchall())
