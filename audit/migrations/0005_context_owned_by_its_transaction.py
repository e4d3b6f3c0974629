"""A context row can be changed only by the transaction that wrote it.

Until now the check was ``current_setting('pghistory.context_id') = OLD.id``: a setting any
session can set to any value, so an old entry's user or reason could be rewritten. Each context
row now records the id of the transaction that inserted it (``audit_xid``, set by the database,
never by the writer), and an UPDATE is allowed only from that same transaction (pghistory merges
what a request learns while it writes). DELETE and TRUNCATE stay refused.
"""

from importlib import import_module

from django.db import migrations

# Rows written before this migration belong to no live transaction ('0').
FORWARD = r"""
ALTER TABLE pghistory_context ADD COLUMN audit_xid xid8 NOT NULL DEFAULT '0';

CREATE OR REPLACE FUNCTION audit_protect_context() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'the audit trail is append-only: TRUNCATE of % is refused', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    ELSIF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the audit trail is append-only: DELETE from % is refused', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    ELSIF TG_OP = 'INSERT' THEN
        NEW.audit_xid := pg_current_xact_id();
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.id IS DISTINCT FROM OLD.id
           OR NEW.created_at IS DISTINCT FROM OLD.created_at
           OR NEW.audit_xid IS DISTINCT FROM OLD.audit_xid
           OR OLD.audit_xid IS DISTINCT FROM pg_current_xact_id() THEN
            RAISE EXCEPTION 'the audit trail is append-only: context % cannot be changed', OLD.id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS audit_context_no_update_delete ON pghistory_context;
CREATE TRIGGER audit_context_guard
    BEFORE INSERT OR UPDATE OR DELETE ON pghistory_context
    FOR EACH ROW EXECUTE FUNCTION audit_protect_context();

CREATE INDEX audit_ctx_action_idx ON pghistory_context ((metadata->>'action') text_pattern_ops);
"""

BACKWARD = r"""
DROP INDEX IF EXISTS audit_ctx_action_idx;
DROP TRIGGER IF EXISTS audit_context_guard ON pghistory_context;
ALTER TABLE pghistory_context DROP COLUMN audit_xid;
DROP TRIGGER IF EXISTS audit_context_no_truncate ON pghistory_context;
""" + import_module("audit.migrations.0002_protect_contexts").PROTECT.split("CREATE INDEX")[0]


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_statement_level_capture")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
