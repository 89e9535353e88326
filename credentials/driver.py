"""Statements of the hot paths, run through the database driver itself rather than Django's cursor.

On SQLite, Django's cursor wrapper costs more than the indexed SELECT it runs (about 35 µs
against 30 µs here: docs/performance.md); on PostgreSQL, Django binds parameters on the
client, so the server parses and plans every statement again. `fetch_all()` runs a statement
on Django's own connection (its transaction, its settings, its error classes), but through:
- SQLite: the `sqlite3` connection, whose statement cache keeps the statement compiled;
- PostgreSQL: a psycopg server-binding cursor, the statement prepared once per connection
  (`prepare=True`) while `SINATRA_DB_PREPARED_STATEMENTS` is on (the default). Behind a
  connection pooler that cannot keep prepared statements (PgBouncer before 1.21, or without
  `max_prepared_statements`, in transaction or statement pooling mode), turn it off: the
  statement is then sent unnamed, bound on the server, planned each time (docs/deploy.md).

What Django's cursor would have done is kept:
- errors are Django's (`OperationalError`, ...), and mark the connection as having failed;
- a connection the server dropped meanwhile (what `CONN_HEALTH_CHECKS` looks for with a
  `SELECT 1` per request) is replaced and the statement run once more, outside a transaction;
- while Django records queries (`DEBUG`, `assertNumQueries`, `CaptureQueriesContext`), the
  statement goes through Django's cursor, so it is seen and counted like any other.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.db.models.expressions import Col

Rows = list[tuple[Any, ...]]

# psycopg prepares a statement by itself after this many runs; Django's connections say never
# (None), which also refuses prepare=True. Statements here are prepared when asked, no others.
NEVER_BY_ITSELF = 2**31 - 1


def fetch_all(connection: BaseDatabaseWrapper, sql: str, params: Sequence[Any]) -> Rows:
    """Run `sql` (with `%s` placeholders, as Django writes them) on `connection`; return every row."""
    if connection.queries_logged:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    run = _RUNNERS.get(connection.vendor)
    if run is None:  # a backend without a fast path here: Django's cursor
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    retried = False
    while True:
        if connection.connection is None:
            connection.ensure_connection()
        connection.validate_no_broken_transaction()
        try:
            with connection.wrap_database_errors:
                return run(connection, sql, params)
        except (OperationalError, InterfaceError):
            if retried or connection.in_atomic_block or connection.is_usable():
                raise
            connection.close()  # dropped by the server: once more, on a new connection
            retried = True


@functools.lru_cache(maxsize=64)
def _qmark(sql: str) -> str:
    """Django's `%s` placeholders as sqlite3's `?` (what Django's SQLite cursor does on every call)."""
    return sql.replace("%s", "?").replace("%%", "%")


def _run_sqlite(connection: BaseDatabaseWrapper, sql: str, params: Sequence[Any]) -> Rows:
    return connection.connection.execute(_qmark(sql), params).fetchall()


def _run_postgresql(connection: BaseDatabaseWrapper, sql: str, params: Sequence[Any]) -> Rows:
    import psycopg  # only on PostgreSQL

    raw = connection.connection
    held = getattr(connection, "_sinatra_driver_cursor", None)
    if held is None or held.connection is not raw or held.closed:
        if raw.prepare_threshold is None:  # Django turns preparing off; prepare=True alone turns it on here
            raw.prepare_threshold = NEVER_BY_ITSELF
        held = psycopg.Cursor(raw)  # binds on the server (Django's own cursors bind on the client)
        connection._sinatra_driver_cursor = held  # type: ignore[attr-defined]  # per thread, as `connection` is
    held.execute(sql, params, prepare=bool(settings.SINATRA_DB_PREPARED_STATEMENTS))
    return held.fetchall()


_RUNNERS: dict[str, Callable[[BaseDatabaseWrapper, str, Sequence[Any]], Rows]] = {
    "sqlite": _run_sqlite,
    "postgresql": _run_postgresql,
}


def literal(value: str) -> str:
    """A constant of the code (a status, a scope) written into a statement as an SQL string literal.

    Compared with a column that a partial index is built on (`status = 'active'`), a parameter
    makes SQLite compile the statement again whenever it is bound (the value decides whether
    the partial index applies): 18 µs against 6 µs a lookup here. Only plain names are accepted.
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]+", value):
        raise ValueError(f"not a plain name: {value!r}")
    return f"'{value}'"


@dataclass(frozen=True)
class Columns:
    """Some of a model's columns as a statement selects them, and how to read their values.

    `sql` lists them qualified by the statement's alias for the table; `convert()` turns what the
    driver returned into what the ORM would have (UUIDs and datetimes on SQLite, say), with the
    ORM's own converters, only for the columns this backend converts.
    """

    sql: str
    names: tuple[str, ...]
    converters: tuple[tuple[int, Col, tuple[Any, ...]], ...]

    def __len__(self) -> int:
        return len(self.names)

    def convert(self, connection: BaseDatabaseWrapper, values: Sequence[Any]) -> list[Any]:
        values = list(values)
        for index, column, functions in self.converters:
            for function in functions:
                values[index] = function(values[index], column, connection)
        return values


def columns(connection: BaseDatabaseWrapper, model: type[Model], names: Sequence[str], *, alias: str) -> Columns:
    """Describe the columns of `model`'s fields `names` (attnames such as tenant_id too), read as `alias`."""
    meta = model._meta
    quote = connection.ops.quote_name
    fields = []
    for name in names:
        field = meta.get_field(name)
        assert isinstance(field, Field), name
        fields.append(field)
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(meta.db_table)
        functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if functions:
            converters.append((index, column, tuple(functions)))
    return Columns(
        sql=", ".join(f"{quote(alias)}.{quote(field.column)}" for field in fields),
        names=tuple(names),
        converters=tuple(converters),
    )
