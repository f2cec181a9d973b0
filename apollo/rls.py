"""Row-level security for tenant tables, as migration operations.

Every table with an ``organization_id`` column gets ``tenant_row_security(table)`` in
the migration that creates it. ``tests/platform/test_cross_tenant_probe.py`` finds the
tables that lack it.
"""

from django.db import migrations

CURRENT_ORG = "NULLIF(current_setting('apollo.org_id', true), '')::uuid"
CURRENT_USER = "NULLIF(current_setting('apollo.user_id', true), '')::uuid"
PRIVILEGED = "current_setting('apollo.privileged', true) = 'on'"

# Tables that carry an organization_id but are not tenant data served to tenants.
ROW_SECURITY_EXEMPT = {
    "apollo_requestlog": "written by the platform for support staff, never served by the API",
}


def tenant_row_security(
    table: str, *, also_readable_when: str | None = None, user_rows_without_org: bool = False
):
    """Enable and force row-level security on ``table``, keyed on the current org.

    ``also_readable_when`` adds a read-only policy, for rows a user may see across
    orgs (their own memberships). ``user_rows_without_org`` lets the current user read
    and write their own rows that belong to no org.
    """
    isolation = f"organization_id = {CURRENT_ORG} OR {PRIVILEGED}"
    statements = [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON {table} USING ({isolation}) WITH CHECK ({isolation})",
    ]
    reverse = [
        f"DROP POLICY IF EXISTS tenant_isolation ON {table}",
        f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
    ]
    if also_readable_when:
        statements.append(
            f"CREATE POLICY tenant_cross_read ON {table} FOR SELECT USING ({also_readable_when})"
        )
        reverse.insert(0, f"DROP POLICY IF EXISTS tenant_cross_read ON {table}")
    if user_rows_without_org:
        own = f"organization_id IS NULL AND user_id = {CURRENT_USER}"
        statements.append(
            f"CREATE POLICY tenant_user_rows ON {table} USING ({own}) WITH CHECK ({own})"
        )
        reverse.insert(0, f"DROP POLICY IF EXISTS tenant_user_rows ON {table}")
    return migrations.RunSQL(sql=statements, reverse_sql=reverse)
