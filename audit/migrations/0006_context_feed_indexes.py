"""Indexes for the feed's who/where/why filters, in the order the feed walks contexts.

The feed filtered by an actor (or an IP, a channel, a business action) walks that actor's
contexts newest first, a page at a time; each index serves that walk directly.
"""

from django.db import migrations

FORWARD = r"""
DROP INDEX IF EXISTS audit_ctx_user_idx;
DROP INDEX IF EXISTS audit_ctx_ip_idx;
DROP INDEX IF EXISTS audit_ctx_channel_idx;
CREATE INDEX audit_ctx_user_idx ON pghistory_context ((metadata->>'user'), created_at DESC, id DESC);
CREATE INDEX audit_ctx_ip_idx ON pghistory_context ((metadata->>'ip'), created_at DESC, id DESC);
CREATE INDEX audit_ctx_channel_idx
    ON pghistory_context ((metadata->>'channel'), created_at DESC, id DESC);
CREATE INDEX audit_ctx_action_created_idx
    ON pghistory_context ((metadata->>'action'), created_at DESC, id DESC);
CREATE INDEX audit_ctx_newest_idx ON pghistory_context (created_at DESC, id DESC);
"""

BACKWARD = r"""
DROP INDEX IF EXISTS audit_ctx_user_idx;
DROP INDEX IF EXISTS audit_ctx_ip_idx;
DROP INDEX IF EXISTS audit_ctx_channel_idx;
DROP INDEX IF EXISTS audit_ctx_action_created_idx;
DROP INDEX IF EXISTS audit_ctx_newest_idx;
CREATE INDEX audit_ctx_user_idx ON pghistory_context ((metadata->>'user'));
CREATE INDEX audit_ctx_ip_idx ON pghistory_context ((metadata->>'ip'));
CREATE INDEX audit_ctx_channel_idx ON pghistory_context ((metadata->>'channel'));
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_context_owned_by_its_transaction")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
