"""The right to revert a field edit from the trail, and the index behind "Reverted by entry Y".

A revert's contexts carry ``reverts`` (the context id of the entry it undoes) in their
metadata; an entry page looks its own up by that key. Few contexts have it: the index is
partial, so it costs nothing for the others.
"""

from django.db import migrations

FORWARD = r"""
CREATE INDEX IF NOT EXISTS audit_ctx_reverts_idx
    ON pghistory_context ((metadata->>'reverts'), created_at)
    WHERE metadata ? 'reverts';
"""

BACKWARD = "DROP INDEX IF EXISTS audit_ctx_reverts_idx;"


class Migration(migrations.Migration):
    dependencies = [("audit", "0009_reason_codes")]

    operations = [
        migrations.AlterModelOptions(
            name="staffsession",
            options={
                "ordering": ["-created_at", "-id"],
                "permissions": [
                    ("review_audit", "Can review the audit trail"),
                    ("revert_entry", "Can revert a field edit from the audit trail"),
                ],
            },
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
