"""Protect pghistory's context rows (who/where/why of every entry) and index what reviewers filter.

A context row is written by the database while a request or command runs, and merged as it
learns more (the reason, the logged-in user). So UPDATE stays possible, but only from inside the
transaction that owns the context; nobody can rewrite an old entry, delete one or truncate the
table.
"""

from django.db import migrations

PROTECT = r"""
CREATE OR REPLACE FUNCTION audit_protect_context() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'the audit trail is append-only: TRUNCATE of % is refused', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    ELSIF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the audit trail is append-only: DELETE from % is refused', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.id IS DISTINCT FROM OLD.id
           OR NEW.created_at IS DISTINCT FROM OLD.created_at
           OR COALESCE(current_setting('pghistory.context_id', true), '') <> OLD.id::text THEN
            RAISE EXCEPTION 'the audit trail is append-only: context % cannot be changed', OLD.id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_context_no_update_delete
    BEFORE UPDATE OR DELETE ON pghistory_context
    FOR EACH ROW EXECUTE FUNCTION audit_protect_context();
CREATE TRIGGER audit_context_no_truncate
    BEFORE TRUNCATE ON pghistory_context
    FOR EACH STATEMENT EXECUTE FUNCTION audit_protect_context();

CREATE INDEX audit_ctx_user_idx ON pghistory_context ((metadata->>'user'));
CREATE INDEX audit_ctx_ip_idx ON pghistory_context ((metadata->>'ip'));
CREATE INDEX audit_ctx_channel_idx ON pghistory_context ((metadata->>'channel'));
CREATE INDEX audit_ctx_request_idx ON pghistory_context ((metadata->>'request_id'));
CREATE INDEX audit_ctx_created_idx ON pghistory_context (created_at);
"""

UNPROTECT = """
DROP TRIGGER IF EXISTS audit_context_no_update_delete ON pghistory_context;
DROP TRIGGER IF EXISTS audit_context_no_truncate ON pghistory_context;
DROP FUNCTION IF EXISTS audit_protect_context();
DROP INDEX IF EXISTS audit_ctx_user_idx;
DROP INDEX IF EXISTS audit_ctx_ip_idx;
DROP INDEX IF EXISTS audit_ctx_channel_idx;
DROP INDEX IF EXISTS audit_ctx_request_idx;
DROP INDEX IF EXISTS audit_ctx_created_idx;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        ("pghistory", "0007_auto_20250421_0444"),
    ]

    operations = [migrations.RunSQL(PROTECT, UNPROTECT)]
