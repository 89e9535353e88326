"""credentials.driver: the hot statements through the database driver, with Django's behaviour kept."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from credentials.driver import connection_for, fetch_all, literal
from credentials.models import TenantModelCredential
from credentials.selectors import _active_keys_statement, active_keys

pytestmark = pytest.mark.django_db

TABLE = connection.ops.quote_name(TenantModelCredential._meta.db_table)
SELECT = (
    f"SELECT provider, key_hint, id, created_at, needs_rewrap, envelope_version, ciphertext FROM {TABLE} "  # noqa: S608
    "WHERE tenant_id = %s AND status = %s ORDER BY provider"
)
needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL: set DATABASE_URL=postgres://..."
)


def tenant_param(tenant) -> object:
    return TenantModelCredential._meta.get_field("tenant").get_db_prep_value(tenant.pk, connection)


def test_the_driver_answers_what_djangos_cursor_answers(tenant, store_key):
    store_key(tenant, "anthropic")
    store_key(tenant, "openrouter")
    params = [tenant_param(tenant), "active"]
    with connection.cursor() as cursor:
        cursor.execute(SELECT, params)
        expected = cursor.fetchall()

    got = fetch_all(connection, SELECT, params)
    assert [tuple(row) for row in got] == [tuple(row) for row in expected]
    assert [[type(value) for value in row] for row in got] == [[type(value) for value in row] for row in expected]
    assert [row[0] for row in expected] == ["anthropic", "openrouter"]


def test_a_literal_percent_is_written_as_django_writes_it(tenant, store_key):
    store_key(tenant, "anthropic")
    sql = f"SELECT provider FROM {TABLE} WHERE tenant_id = %s AND provider LIKE 'anth%%'"  # noqa: S608

    assert [tuple(row) for row in fetch_all(connection, sql, [tenant_param(tenant)])] == [("anthropic",)]


def test_recorded_queries_go_through_djangos_cursor_and_are_counted(tenant, store_key):
    store_key(tenant, "anthropic")

    with CaptureQueriesContext(connection) as queries:
        fetch_all(connection, SELECT, [tenant_param(tenant), "active"])
        active_keys(tenant_id=tenant.pk)

    assert len(queries) == 2


def test_errors_are_djangos_and_mark_the_connection(tenant):
    with pytest.raises(DatabaseError) as raised:
        fetch_all(connection, f"SELECT no_such_column FROM {TABLE}", [])  # noqa: S608 - a name of ours

    assert type(raised.value).__module__ == "django.db.utils"
    assert connection.errors_occurred


def test_a_broken_transaction_is_refused_as_django_refuses_it(tenant):
    from django.db.transaction import TransactionManagementError

    with transaction.atomic():
        connection.needs_rollback = True
        with pytest.raises(TransactionManagementError):
            fetch_all(connection, SELECT, [tenant_param(tenant), "active"])
        connection.needs_rollback = False


# --- PostgreSQL: prepared on the server, or not; a connection the server dropped.


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.postgres
@needs_postgres
def test_postgresql_prepares_the_statement_once_per_connection(tenant, store_key):
    store_key(tenant, "anthropic")
    for _ in range(3):
        active_keys(tenant_id=tenant.pk)

    sql, _, _ = _active_keys_statement(connection.alias, connection.vendor)
    numbered = sql.replace("%s", "$1")
    assert prepared_statements().count(numbered) == 1


@pytest.mark.postgres
@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_without_prepared_statements_nothing_is_prepared(tenant, store_key, settings):
    settings.SINATRA_DB_PREPARED_STATEMENTS = False
    connection.close()  # a new session: nothing another test prepared
    store_key(tenant, "anthropic")
    for _ in range(10):  # past psycopg's own automatic threshold (5)
        assert set(active_keys(tenant_id=tenant.pk)) == {"anthropic"}

    assert [sql for sql in prepared_statements() if TABLE in sql] == []


@pytest.mark.postgres
@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_dropped_is_replaced_once(tenant, store_key):
    import psycopg

    from tests.helpers import database_url

    store_key(tenant, "anthropic")
    assert set(active_keys(tenant_id=tenant.pk)) == {"anthropic"}
    pid = connection.connection.info.backend_pid
    with psycopg.connect(database_url(connection.settings_dict), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    assert set(active_keys(tenant_id=tenant.pk)) == {"anthropic"}
    assert connection.connection.info.backend_pid != pid


@pytest.mark.postgres
@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_a_dropped_connection_is_an_error(tenant, store_key):
    import psycopg

    from tests.helpers import database_url

    store_key(tenant, "anthropic")
    with transaction.atomic():
        pid = connection.connection.info.backend_pid
        with psycopg.connect(database_url(connection.settings_dict), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        with pytest.raises(DatabaseError):
            active_keys(tenant_id=tenant.pk)
        transaction.set_rollback(True)
    connection.close()


@pytest.mark.postgres
@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_the_first_statement_of_a_transaction_runs_inside_it(tenant, store_key):
    from psycopg import pq

    store_key(tenant, "anthropic")
    with transaction.atomic():
        assert connection.connection.pgconn.transaction_status == pq.TransactionStatus.IDLE  # not begun yet
        assert set(active_keys(tenant_id=tenant.pk)) == {"anthropic"}
        assert connection.connection.pgconn.transaction_status == pq.TransactionStatus.INTRANS

        store_key(tenant, "openrouter")  # not committed: seen only inside this transaction
        assert set(active_keys(tenant_id=tenant.pk)) == {"anthropic", "openrouter"}
        transaction.set_rollback(True)
    assert set(active_keys(tenant_id=tenant.pk)) == {"anthropic"}


@pytest.mark.postgres
@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_statement_deallocated_behind_its_back_is_prepared_again(tenant, store_key):
    store_key(tenant, "anthropic")
    active_keys(tenant_id=tenant.pk)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # what a pooler's reset, or DISCARD ALL, does

    assert set(active_keys(tenant_id=tenant.pk)) == {"anthropic"}
    sql, _, _ = _active_keys_statement(connection.alias, connection.vendor)
    assert prepared_statements().count(sql.replace("%s", "$1")) == 1


@pytest.mark.postgres
@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_a_deallocated_statement_is_an_error(tenant, store_key):
    store_key(tenant, "anthropic")
    active_keys(tenant_id=tenant.pk)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")
        with pytest.raises(DatabaseError, match="does not exist"):
            active_keys(tenant_id=tenant.pk)
        transaction.set_rollback(True)
    assert set(active_keys(tenant_id=tenant.pk)) == {"anthropic"}  # and prepared again afterwards


@pytest.mark.parametrize("value", ["active", "all-before-scopes", "needs_re_entry"])
def test_a_literal_is_a_plain_name_in_quotes(value):
    assert literal(value) == f"'{value}'"


@pytest.mark.parametrize("value", ["", "it's", "a b", "x'; DROP TABLE t; --", "é"])
def test_anything_but_a_plain_name_is_refused_as_a_literal(value):
    with pytest.raises(ValueError, match="not a plain name"):
        literal(value)


# --- connection_for: Django's connection of this thread, without asgiref's lookup every time.


def test_connection_for_is_djangos_connection_of_this_thread():
    assert connection_for("default") is connections["default"]
    assert connection_for("default") is connection_for("default")

    seen = {}

    def elsewhere():
        seen["mine"], seen["djangos"] = connection_for("default"), connections["default"]
        connections["default"].close()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert seen["mine"] is seen["djangos"]
    assert seen["mine"] is not connections["default"]  # each thread its own, as Django has it


def test_inside_an_event_loop_connection_for_is_djangos_lookup_each_time():
    async def inside() -> tuple[object, object]:
        return connection_for("default"), connections["default"]

    mine, djangos = asyncio.run(inside())
    assert mine is djangos
    assert mine is not connections["default"]  # per task there, not this thread's


# --- Columns.converted: the ORM's converters, remembered for the same values.


def test_converted_values_are_what_the_orm_reads_and_are_remembered(tenant, store_key):
    from credentials.driver import columns

    credential = store_key(tenant, "anthropic")
    selected = columns(connection, TenantModelCredential, ("id", "created_at", "needs_rewrap"), alias="c")
    sql = f"SELECT {selected.sql} FROM {TABLE} c WHERE c.id = %s"  # noqa: S608 - names of ours
    param = TenantModelCredential._meta.pk.get_db_prep_value(credential.pk, connection)
    (row,) = fetch_all(connection, sql, [param])
    row = tuple(row)

    first = selected.converted(connection, row)
    assert first == (credential.pk, credential.created_at, False)
    if selected.converters:  # SQLite: text to a UUID and a datetime, 0 to False
        assert first != row
        assert selected.converted(connection, tuple(list(row))) is first  # equal values: remembered
    else:  # PostgreSQL's driver returns them as the ORM has them: nothing to do
        assert first is row
