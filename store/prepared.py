"""Statements whose SQL Django compiles once per thread and connection, then only executes.

Django builds and compiles a statement's SQL (its columns, joins, `FOR UPDATE`, placeholders)
anew each time it runs, which costs more CPU than SQLite or PostgreSQL take to run a small read of
a few rows or a one-row INSERT. The few statements that every catalog request or every pipeline
run repeats are kept here as Django compiled them the first time:

- `PreparedRead(build, *parameters)`: `build(**parameters)`'s queryset. `read(**values)` gives
  the `Rows` read: the digest of what was read (a key of store.fragments: the database's values,
  of which the model's are a function) and, only when they are needed, the model instances, so
  the two always come from the same read. `one(**values)` is the instance, as `QuerySet.get`.
  Outside a transaction a locking read is compiled anew, so PostgreSQL refuses it as with the ORM.
- `PreparedInsert(model)`: `model(**values).save(force_insert=True)` for a row that is written
  often and not read back at once (a ledger's): the values are prepared as `save` prepares them.

A parameter is the value of an exact lookup (e.g. `public_id=`, `pk=`), passed to the database as
given; a lookup that rewrites its value (`iexact`, `contains`) cannot be one. The SQL, its quoting,
`FOR UPDATE OF` (none on SQLite) and the values' conversions are Django's own; taking them relies
on the internals of Django 5.2's compiler (pinned in requirements.txt), and the tests compare
what comes out with the ORM's, so an upgrade that changes them fails there.
"""
import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable, get_related_populators
from django.db.models.sql import InsertQuery


class _Prepared:
    """What is compiled once per thread and connection (`_compile`), and found again (`_statement`)."""

    def __init__(self, using: str) -> None:
        self._using = using
        self._local = threading.local()

    def _compile(self, connection) -> Any:
        raise NotImplementedError

    def _statement(self) -> Any:
        connection = connections[self._using]
        statement = getattr(self._local, "statement", None)
        if statement is None or statement.connection is not connection:
            statement = self._local.statement = self._compile(connection)
        return statement


@dataclass(frozen=True)
class _Read:
    connection: Any  # the DatabaseWrapper it was compiled for (one per thread)
    sql: str
    params: tuple
    slots: dict[str, tuple[int, ...]]  # parameter name → its positions in params
    locks: bool  # select_for_update
    converters: tuple  # (position, converters, expression), as SQLCompiler.get_converters
    model: type[Model]
    columns: slice  # the model's own columns in a row
    attnames: tuple[str, ...]
    populators: tuple  # select_related objects (django.db.models.query.RelatedPopulator)


class Rows:
    """What one execution read: `rows`, the database's values as they came (the ORM's converters
    are applied when objects are made), in the queryset's order."""

    def __init__(self, statement: _Read, rows: list[tuple]) -> None:
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
            instance = statement.model.from_db(connection.alias, statement.attnames, row[statement.columns])
            for populator in statement.populators:
                populator.populate(row, instance)
            instances.append(instance)
        return instances


def _mark() -> int:
    # A value an exact lookup on a text or an integer column passes on unchanged (as "123…" to a
    # text one), within a 32-bit integer's range so that no lookup takes it for an overflow.
    return 1_000_000_000 + secrets.randbelow(1_000_000_000)


class PreparedRead(_Prepared):
    """`build(**parameters)`'s queryset of model instances (filters, select_related,
    select_for_update, only/defer; no annotations or prefetches), compiled once per thread;
    `read(**values)` runs it."""

    def __init__(self, build: Callable[..., QuerySet], *parameters: str, using: str = DEFAULT_DB_ALIAS) -> None:
        super().__init__(using)
        self._build = build
        self._parameters = parameters

    def _compile(self, connection) -> _Read:
        marks: dict[str, int] = {}
        for name in self._parameters:  # each its own: a value must fill only its own positions
            while (mark := _mark()) in marks.values():
                pass
            marks[name] = mark
        queryset = self._build(**marks)
        if queryset._iterable_class is not ModelIterable or queryset.query.annotation_select \
                or queryset._prefetch_related_lookups:
            raise ValueError("a PreparedRead reads plain model instances")
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()  # outside a transaction, PostgreSQL refuses select_for_update here
        slots = {name: tuple(i for i, param in enumerate(params) if param in (mark, str(mark)))
                 for name, mark in marks.items()}
        if not all(slots.values()) or any(str(mark) in sql for mark in marks.values()):
            raise ValueError(f"{', '.join(self._parameters)}: each must be an exact lookup's value")
        klass_info, select = compiler.klass_info, compiler.select
        fields = klass_info["select_fields"]
        converters = compiler.get_converters([column for column, _, _ in select])
        return _Read(
            connection=connection, sql=sql, params=tuple(params), slots=slots,
            locks=bool(queryset.query.select_for_update),
            converters=tuple((position, tuple(convs), expression) for position, (convs, expression)
                             in converters.items()),
            model=klass_info["model"], columns=slice(fields[0], fields[-1] + 1),
            attnames=tuple(column.target.attname for column, _, _ in select[fields[0]:fields[-1] + 1]),
            populators=tuple(get_related_populators(klass_info, select, connection.alias)),
        )

    def read(self, **values: Any) -> Rows:
        statement = self._statement()
        if statement.locks and statement.connection.get_autocommit():
            # Outside a transaction a lock would end with the statement: compiled anew, as the ORM
            # would, so the backend says whether it refuses it (PostgreSQL does; SQLite has no row locks).
            statement = self._compile(statement.connection)
        params = list(statement.params)
        for name, positions in statement.slots.items():
            for position in positions:
                params[position] = values[name]
        with statement.connection.cursor() as cursor:
            cursor.execute(statement.sql, params)
            return Rows(statement, cursor.fetchall())

    def one(self, **values: Any) -> Model:
        """The one instance read, as `QuerySet.get`: the model's DoesNotExist when there is none,
        MultipleObjectsReturned when there are more."""
        rows = self.read(**values)
        model = rows._statement.model
        if not rows:  # the ORM's words
            raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
        if len(rows) > 1:
            raise model.MultipleObjectsReturned(
                f"get() returned more than one {model._meta.object_name} -- it returned {len(rows)}!")
        return rows.objects()[0]


@dataclass(frozen=True)
class _Insert:
    connection: Any
    sql: str


class PreparedInsert(_Prepared):
    """`model(**values).save(force_insert=True)` with its INSERT compiled once per thread: each call
    only prepares the values as `save` does (each field's `pre_save`, so `auto_now_add` is now,
    then `get_db_prep_save`). Nothing comes back (no id), and no model signal is sent."""

    def __init__(self, model: type[Model]) -> None:
        super().__init__(router.db_for_write(model))
        self.model = model
        self.fields = tuple(field for field in model._meta.local_concrete_fields
                            if not (field.primary_key and field.db_returning) and not field.generated)
        if any(field.has_db_default() for field in self.fields):
            # The ORM writes DEFAULT for a value not given; SQLite's compiler inlines the default's
            # own SQL, which then takes a parameter no value fills (refused only at an INSERT).
            raise ValueError(f"{model.__name__}: a PreparedInsert cannot leave a field to its db_default")

    def _compile(self, connection) -> _Insert:
        query = InsertQuery(self.model)
        query.insert_values(self.fields, [self.model()])
        [(sql, params)] = query.get_compiler(connection=connection).as_sql()
        if len(params) != len(self.fields) or any(hasattr(field, "get_placeholder") for field in self.fields):
            raise ValueError(f"{self.model.__name__}: a PreparedInsert needs one plain placeholder a field")
        return _Insert(connection=connection, sql=sql)

    def insert(self, **values: Any) -> None:
        statement = self._statement()
        row = self.model(**values)
        params = [field.get_db_prep_save(field.pre_save(row, True), statement.connection) for field in self.fields]
        with statement.connection.cursor() as cursor:
            cursor.execute(statement.sql, params)
