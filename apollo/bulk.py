"""Many rows written at COPY speed into tables that row-level security guards.

PostgreSQL refuses ``COPY ... FROM`` into a table with row-level security, so rows
are copied into a temporary table of the same columns first, then moved with one
``INSERT ... SELECT`` (or ``UPDATE ... FROM``), which the policies check as usual.
Each set of columns of a table has one temporary table per database session, emptied
at every commit.

Values are Python values of each column's type; JSON columns take dicts and lists of
plain JSON values (strings, not UUIDs or datetimes).
"""

import zlib

from django.db import IntegrityError, connection, transaction


class _NewUuid:
    def __repr__(self):
        return "NEW_UUID"


# A value of ``same``: a fresh uuid for each row, made by the database.
NEW_UUID = _NewUuid()


def insert_rows(model, attnames, rows, *, same=None, skip_conflicts=False) -> list:
    """Insert ``rows`` (tuples in the order of ``attnames``) in the caller's transaction.

    ``same`` maps more attnames to the value they take in every row: sent once with
    the statement, not copied with each row. With ``skip_conflicts``, a row that would
    break a unique constraint is left out and the primary keys of the rows that went in
    are returned.
    """
    if not rows:
        return []
    same = same or {}
    table, columns = _names(model, attnames)
    stage = _staged(model, table, columns, rows)
    quote = connection.ops.quote_name
    targets = [columns, *(quote(model._meta.get_field(name).column) for name in same)]
    values, params = _same_values(model, same)
    sql = (
        f"INSERT INTO {table} ({', '.join(targets)}) "  # noqa: S608
        f"SELECT {', '.join([columns, *values])} FROM {stage}"
    )
    if not skip_conflicts:
        _execute(sql, params)
        return []

    returning = f" RETURNING {quote(model._meta.pk.column)}"
    # ON CONFLICT makes each row a speculative insertion, about a quarter slower into
    # leads. A conflict is rare (a row someone made meanwhile): the plain insert goes
    # first, in a savepoint, and the careful one only after it failed.
    try:
        with transaction.atomic():
            inserted = _execute(sql + returning, params)
    except IntegrityError:
        inserted = _execute(sql + " ON CONFLICT DO NOTHING" + returning, params)
    return [pk for (pk,) in inserted]


def update_rows(model, attnames, rows) -> None:
    """Overwrite the rows whose primary key (the first attname) matches."""
    if not rows:
        return
    table, columns = _names(model, attnames)
    stage = _staged(model, table, columns, rows)
    quoted = columns.split(", ")
    assignments = ", ".join(f"{column} = s.{column}" for column in quoted[1:])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS t SET {assignments} FROM {stage} AS s "  # noqa: S608
            f"WHERE t.{quoted[0]} = s.{quoted[0]}"
        )


def _execute(sql: str, params: list) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or None)
        return cursor.fetchall() if cursor.description else []


def _names(model, attnames) -> tuple[str, str]:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in attnames)
    return quote(model._meta.db_table), columns


def _same_values(model, same: dict) -> tuple[list[str], list]:
    values, params = [], []
    for name, value in same.items():
        if value is NEW_UUID:
            values.append("gen_random_uuid()")
        else:
            # Typed, or a NULL or a string would reach the column as text.
            values.append(f"CAST(%s AS {model._meta.get_field(name).db_type(connection)})")
            params.append(value)
    return values, params


def _staged(model, table: str, columns: str, rows) -> str:
    # Identifiers only come from model metadata; values travel through COPY.
    digest = zlib.crc32(columns.encode())
    stage = connection.ops.quote_name(f"import_stage_{model._meta.db_table}_{digest:08x}")
    with connection.cursor() as cursor:
        # Made once per session and emptied by each commit; emptied here too for a caller
        # that writes several batches in one transaction (a test).
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "  # noqa: S608
            f"SELECT {columns} FROM {table} WITH NO DATA; TRUNCATE {stage}"
        )
        types = _column_types(cursor, stage)
        # Binary COPY formats each value in C: four times faster than text here.
        with cursor.copy(f"COPY {stage} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)
    return stage


_types: dict[str, list[int]] = {}


def _column_types(cursor, stage: str) -> list[int]:
    # Type ids of a staging table: the same for every session, so asked once.
    if stage not in _types:
        cursor.execute(
            "SELECT atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum",
            [f"pg_temp.{stage}"],
        )
        _types[stage] = [row[0] for row in cursor.fetchall()]
    return _types[stage]
