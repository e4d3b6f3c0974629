"""The published list of error codes (filled in below)."""

REASON_REQUIRED = "reason_required"
INVALID_TRANSITION = "invalid_transition"
WRONG_CLIENT = "wrong_client"
UNKNOWN_FIELD = "unknown_field"
# A lost-update refusal (``audit.edits.refuse_if_changed``): the record changed after the form
# was opened. It carries the record's current version.
CHANGED_SINCE_OPENED = "changed_since_opened"
