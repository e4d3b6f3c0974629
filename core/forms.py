from __future__ import annotations

from typing import Any

from django import forms


class ReasonFormMixin(forms.Form):
    """Adds the audit reason: optional in general, required when a sensitive field changes.

    ``reason_required_for`` names the fields whose change needs a reason (DOMAIN.md: status
    changes, price overrides, back-dating, ...). The service checks the same rule; the form
    only says it early and next to the field.
    """

    reason_required_for: tuple[str, ...] = ()
    # Named so that it never collides with a model field called ``reason``.

    audit_reason = forms.CharField(
        label="Reason for this change",
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "e.g. requested by phone, ticket #1234"}),
        help_text="Recorded in the audit trail. Required for sensitive changes "
        "(status, back-dating).",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if getattr(self, "instance", None) is not None and self.instance.pk:
            sensitive = [f for f in self.reason_required_for if f in self.changed_data]
            if sensitive and not (cleaned.get("audit_reason") or "").strip():
                self.add_error(
                    "audit_reason",
                    forms.ValidationError(
                        "Say why the %(fields)s changes.",
                        code="reason_required",
                        params={"fields": ", ".join(sensitive)},
                    ),
                )
        return cleaned
