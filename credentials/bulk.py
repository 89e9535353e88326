"""Batched writes built from a model's metadata, for the one path where the ORM's `bulk_update`
and `bulk_create` cost more per row than the work itself: `rewrap_credentials`
(docs/performance.md). Each value is prepared by its field, as the ORM would prepare it.

PostgreSQL: one statement per call, whatever the number of rows, its values passed as one array
per column (`unnest`) through a server-binding psycopg cursor on Django's own connection, so
inside the caller's transaction. Django's cursor binds on the client: Python would quote every
value into the SQL text, and psycopg parse that text again, at more cost than the database's
work. The statements are not prepared (nothing for PgBouncer to keep), and Django's query log
does not list them. SQLite (in process: no round trips): one statement prepared once and run
for each row (`executemany`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model


def lock_rows(model: type[Model], pks: Sequence, names: Sequence[str]) -> dict:
    """Lock the rows with these primary keys (FOR NO KEY UPDATE, in key order), and return
    {primary key: (values of the fields `names`)}, keys as given, values as the driver gives them.

    SQLite locks the whole database for the transaction instead (BEGIN IMMEDIATE).
    """
    if not pks:
        return {}
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    assert meta.pk is not None
    quote = connection.ops.quote_name
    key = quote(meta.pk.column)
    columns = ", ".join([key, *(quote(field.column) for field in _fields(model, names))])
    given = {meta.pk.get_db_prep_value(pk, connection): pk for pk in pks}
    lock = ""
    if connection.features.has_select_for_update:
        lock = " " + connection.ops.for_update_sql(no_key=connection.features.has_select_for_no_key_update)
    if connection.vendor == "postgresql":
        where = f"{key} = ANY(%b::{meta.pk.db_type(connection)}[])"
        params: list = [list(given)]
    else:
        where, params = f"{key} IN ({', '.join(['%s'] * len(given))})", list(given)
    sql = f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {where} ORDER BY {key}{lock}"  # noqa: S608 - names from the model
    with _cursor(connection) as cursor:
        cursor.execute(sql, params)
        return {given[row[0]]: row[1:] for row in cursor.fetchall()}


def insert_rows(model: type[Model], names: Sequence[str], rows: Sequence[tuple]) -> None:
    """INSERT `rows`, each the values of the fields `names` in that order."""
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    fields = _fields(model, names)
    quote = connection.ops.quote_name
    table, columns = quote(model._meta.db_table), ", ".join(quote(field.column) for field in fields)
    if connection.vendor == "postgresql":
        sql = f"INSERT INTO {table} ({columns}) SELECT * FROM {_unnest(connection, fields)}"  # noqa: S608 - names from the model
        _execute_with_arrays(connection, sql, fields, rows)
    else:
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608 - names from the model
        with connection.cursor() as cursor:
            cursor.executemany(sql, _prepared(connection, fields, rows))


def update_rows(model: type[Model], names: Sequence[str], rows: Sequence[tuple]) -> None:
    """UPDATE rows by primary key; each row is the values of the fields `names`, then the primary key."""
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    assert meta.pk is not None
    fields = [*_fields(model, names), meta.pk]
    quote = connection.ops.quote_name
    table, key = quote(meta.db_table), quote(meta.pk.column)
    if connection.vendor == "postgresql":
        assignments = ", ".join(f"{quote(field.column)} = v.c{number}" for number, field in enumerate(fields[:-1]))
        join = f"{table}.{key} = v.c{len(fields) - 1}"
        sql = f"UPDATE {table} SET {assignments} FROM {_unnest(connection, fields)} WHERE {join}"  # noqa: S608 - names from the model
        _execute_with_arrays(connection, sql, fields, rows)
    else:
        assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields[:-1])
        with connection.cursor() as cursor:
            sql = f"UPDATE {table} SET {assignments} WHERE {key} = %s"  # noqa: S608 - names from the model
            cursor.executemany(sql, _prepared(connection, fields, rows))


@contextlib.contextmanager
def _cursor(connection: BaseDatabaseWrapper) -> Iterator[Any]:
    """Django's cursor; on PostgreSQL, a server-binding cursor on the same connection and transaction."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def _unnest(connection: BaseDatabaseWrapper, fields: Sequence[Field]) -> str:
    """`unnest(%s::type[], ...) AS v(c0, c1, ...)`: one array parameter per column."""
    arrays = ", ".join(f"%b::{field.db_type(connection)}[]" for field in fields)  # %b: sent in binary
    return f"unnest({arrays}) AS v({', '.join(f'c{number}' for number in range(len(fields)))})"


def _execute_with_arrays(
    connection: BaseDatabaseWrapper, sql: str, fields: Sequence[Field], rows: Sequence[tuple]
) -> None:
    columns = [list(column) for column in zip(*_prepared(connection, fields, rows), strict=True)]
    with _cursor(connection) as cursor:
        cursor.execute(sql, columns)


def _fields(model: type[Model], names: Sequence[str]) -> list[Field]:
    fields = [model._meta.get_field(name) for name in names]
    assert all(isinstance(field, Field) for field in fields)
    return fields  # type: ignore[return-value]  # checked just above


def _prepared(connection: BaseDatabaseWrapper, fields: Sequence[Field], rows: Sequence[tuple]) -> list[tuple]:
    """Return the rows with each value prepared for the database by its field.

    A value that is the same object in every row (an actor, a time) is prepared once.
    """
    columns = []
    for field, values in zip(fields, zip(*rows, strict=True), strict=True):
        if all(value is values[0] for value in values):
            columns.append([field.get_db_prep_save(values[0], connection)] * len(values))
        else:
            columns.append([field.get_db_prep_save(value, connection) for value in values])
    return list(zip(*columns, strict=True))
