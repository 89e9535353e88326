"""Statements of the hot paths, run through the database driver itself rather than Django's cursor.

On SQLite, Django's cursor wrapper costs more than the indexed SELECT it runs (about 35 µs
against 30 µs here: docs/performance.md); on PostgreSQL, Django binds parameters on the
client, so the server parses and plans every statement again. `fetch_all()` runs a statement
on Django's own connection (its transaction, its settings, its error classes), but through:
- SQLite: the `sqlite3` connection, whose statement cache keeps the statement compiled;
- PostgreSQL: libpq itself, through psycopg's documented wrapper of it (`psycopg.pq`): values
  bound on the server, rows loaded by the connection's own loaders (Django's among them, so
  every value is what Django's cursor gives), the statement prepared once per connection
  while `SINATRA_DB_PREPARED_STATEMENTS` is on (the default). Behind a connection pooler that
  cannot keep prepared statements (PgBouncer before 1.21, or without `max_prepared_statements`,
  in transaction or statement pooling mode), turn it off: the statement is then sent unnamed,
  in the same single round trip, bound on the server and planned each time (docs/deploy.md).
  A statement deallocated behind the driver's back (`DISCARD ALL`) is prepared again, once,
  outside a transaction.

What Django's cursor would have done is kept:
- errors are Django's (`OperationalError`, ...), and mark the connection as having failed;
- a connection the server dropped meanwhile (what `CONN_HEALTH_CHECKS` looks for with a
  `SELECT 1` per request) is replaced and the statement run once more, outside a transaction;
- while Django records queries (`DEBUG`, `assertNumQueries`, `CaptureQueriesContext`), the
  statement goes through Django's cursor, so it is seen and counted like any other.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.db.models.expressions import Col
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer

from .memo import BoundedMemo

Rows = list[tuple[Any, ...]]
# Values converted by Columns.converted(), remembered per Columns (a few rows per tenant and token).
CONVERTED_MEMO_ENTRIES = 20_000

_this_thread = threading.local()


def connection_for(alias: str) -> BaseDatabaseWrapper:
    """Django's connection `alias` (`connections[alias]`), remembered by this thread.

    Django keeps one connection object per alias and thread for the thread's life, but finding
    it (asgiref's context-aware local) cost 2 µs a resolve, more than a quarter of the indexed
    SELECT. Inside a running event loop Django's connections are per task: there it is looked
    up each time.
    """
    if asyncio._get_running_loop() is not None:
        return connections[alias]
    known: dict[str, BaseDatabaseWrapper] | None = getattr(_this_thread, "connections", None)
    if known is None:
        known = _this_thread.connections = {}
    connection = known.get(alias)
    if connection is None:
        connection = known[alias] = connections[alias]
    return connection


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
        if connection.needs_rollback:
            connection.validate_no_broken_transaction()  # raises, as Django's cursor would
        try:
            try:
                return run(connection, sql, params)
            except Exception:
                with connection.wrap_database_errors:  # the driver's error as Django's (only entered on one)
                    raise
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
    """Run through libpq itself (psycopg.pq): one blocking call, the GIL released while it waits.

    psycopg's cursor spends more Python per statement (its query conversion, its wait loop)
    than the server spends running an indexed, prepared SELECT. The statement's values are
    bound on the server; its rows come back as text, as they do to Django's cursor, and are
    loaded by the same loaders (the connection's: psycopg's, and those Django registers).
    """
    raw = connection.connection
    pgconn = raw.pgconn
    if not raw.autocommit and pgconn.transaction_status == pq.TransactionStatus.IDLE:
        # A transaction psycopg has yet to begin (it does on a cursor's first statement): let it.
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    session = getattr(connection, "_sinatra_session", None)
    if session is None or session.raw is not raw:
        session = _Session(raw)
        connection._sinatra_session = session  # type: ignore[attr-defined]  # per thread, as `connection` is
    return session.fetch_all(sql, params)


class _Session:
    """One psycopg connection as the driver uses it: its loaders and the statements it prepared."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.transformer = Transformer(raw)
        self.prepared: set[bytes] = set()

    def fetch_all(self, sql: str, params: Sequence[Any]) -> Rows:
        query, name, wanted = _numbered(sql)
        transformer, pgconn = self.transformer, self.raw.pgconn
        values = transformer.dump_sequence(params, wanted)
        types, formats = transformer.types or (), transformer.formats
        if not settings.SINATRA_DB_PREPARED_STATEMENTS:  # unnamed: bound and planned on each run
            result = pgconn.exec_params(query, values, types, formats, result_format=pq.Format.TEXT)
            self._check(result, pq.ExecStatus.TUPLES_OK)
        else:
            result = self._run_prepared(name, query, values, types, formats)
        transformer.set_pgresult(result)
        return transformer.load_rows(0, result.ntuples, tuple)

    def _run_prepared(self, name: bytes, query: bytes, values: Any, types: Any, formats: Any) -> Any:
        pgconn = self.raw.pgconn
        for attempt in (1, 2):
            if name not in self.prepared:
                self._check(pgconn.prepare(name, query, types), pq.ExecStatus.COMMAND_OK)
                self.prepared.add(name)
            result = pgconn.exec_prepared(name, values, formats, result_format=pq.Format.TEXT)
            try:
                self._check(result, pq.ExecStatus.TUPLES_OK)
            except pg_errors.InvalidSqlStatementName:
                # Deallocated behind our back (DISCARD ALL, a pooler's reset): prepared again, once,
                # unless a transaction was open, which the error has ended.
                if attempt == 2 or pgconn.transaction_status != pq.TransactionStatus.IDLE:
                    raise
                continue
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _check(self, result: Any, expected: int) -> None:
        if result.status == expected:
            return
        if self.raw.pgconn.status == pq.ConnStatus.BAD:  # the server went away: no SQLSTATE to go by
            raise psycopg.OperationalError(result.get_error_message(self.raw.info.encoding))
        if result.status == pq.ExecStatus.FATAL_ERROR:
            error = pg_errors.error_from_result(result, encoding=self.raw.info.encoding)
            if isinstance(error, pg_errors.InvalidSqlStatementName):  # deallocated behind our back
                self.prepared.clear()
            raise error
        raise psycopg.InternalError(f"unexpected result status {pq.ExecStatus(result.status).name}")


class _Statement(NamedTuple):
    query: bytes  # with PostgreSQL's $1, $2... placeholders
    name: bytes  # what it is prepared as
    wanted: list[PyFormat]  # how each parameter is sent: as psycopg chooses for its type


@functools.lru_cache(maxsize=64)
def _numbered(sql: str) -> _Statement:
    """Django's `%s` placeholders as PostgreSQL's `$1`, `$2`...; and a name to prepare the statement by."""
    count = sql.count("%s")
    numbers = iter(range(1, count + 1))
    query = re.sub(r"%[%s]", lambda match: "%" if match.group() == "%%" else f"${next(numbers)}", sql)
    name = b"sinatra_" + hashlib.sha256(query.encode()).hexdigest()[:24].encode()
    return _Statement(query.encode(), name, [PyFormat.AUTO] * count)


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
    ORM's own converters, only for the columns this backend converts. `converted()` remembers
    what it gave for the same values: the converters depend on nothing else.
    """

    sql: str
    names: tuple[str, ...]
    converters: tuple[tuple[int, Col, tuple[Any, ...]], ...]
    _memo: BoundedMemo[tuple[str, tuple[Any, ...]], tuple[Any, ...]] = field(
        default_factory=lambda: BoundedMemo(CONVERTED_MEMO_ENTRIES), compare=False, repr=False
    )

    def __len__(self) -> int:
        return len(self.names)

    def convert(self, connection: BaseDatabaseWrapper, values: Sequence[Any]) -> list[Any]:
        values = list(values)
        for index, column, functions in self.converters:
            for function in functions:
                values[index] = function(values[index], column, connection)
        return values

    def converted(self, connection: BaseDatabaseWrapper, values: tuple[Any, ...]) -> tuple[Any, ...]:
        """convert(), as a tuple, looked up when these values were converted before."""
        if not self.converters:
            return values
        key = (connection.vendor, values)
        found = self._memo.get(key)
        if found is None:
            found = self._memo.put(key, tuple(self.convert(connection, values)))
        return found


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
