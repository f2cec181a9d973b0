"""Many rows written at COPY speed into tables that row-level security guards.

PostgreSQL refuses ``COPY ... FROM`` into a table with row-level security, so rows
are copied into a temporary table of the same columns first, then moved with one
``INSERT ... SELECT`` (or ``UPDATE ... FROM``), which the policies check as usual.
Each table has one temporary table per database session, emptied at every commit.

Values are Python values of each column's type; JSON columns take dicts and lists of
plain JSON values (strings, not UUIDs or datetimes).
"""

from django.db import connection


def insert_rows(model, attnames, rows, *, skip_conflicts=False) -> list:
    """Insert ``rows`` (tuples in the order of ``attnames``) in the caller's transaction.

    With ``skip_conflicts``, a row that would break a unique constraint is left out
    and the primary keys of the rows that went in are returned.
    """
    if not rows:
        return []
    table, columns = _names(model, attnames)
    stage = _staged(model, table, columns, rows)
    sql = f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}"  # noqa: S608
    if skip_conflicts:
        pk = connection.ops.quote_name(model._meta.pk.column)
        sql += f" ON CONFLICT DO NOTHING RETURNING {pk}"
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()] if skip_conflicts else []


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


def _names(model, attnames) -> tuple[str, str]:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in attnames)
    return quote(model._meta.db_table), columns


def _staged(model, table: str, columns: str, rows) -> str:
    # Identifiers only come from model metadata; values travel through COPY.
    stage = connection.ops.quote_name(f"import_stage_{model._meta.db_table}")
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
