"""The reason-code lists as shipped (audit migration ``0009_reason_codes``); plain data, no
imports, so the migration can read it. Admins edit the lists afterwards."""

DEFAULTS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "billing.add_credit": (
        ("goodwill", "Goodwill", False),
        ("billing_error", "Billing error", False),
        ("sla", "SLA compensation", False),
        ("migration", "Migration from another system", False),
        ("other", "Other", True),
    ),
    "billing.refund_payment": (
        ("cancelled", "Client cancelled", False),
        ("duplicate", "Duplicate payment", False),
        ("billing_error", "Billing error", False),
        ("sla", "SLA compensation", False),
        ("chargeback", "Chargeback", False),
        ("other", "Other", True),
    ),
    "billing.mark_invoice_paid": (
        ("write_off", "Write-off", False),
        ("settled_outside", "Settled outside the system", False),
        ("migration", "Migration from another system", False),
        ("other", "Other", True),
    ),
    "clients.delete_client": (
        ("duplicate", "Entered twice", False),
        ("test", "Test record", False),
        ("mistake", "Entered by mistake", False),
        ("other", "Other", True),
    ),
    "affiliates.record_payout": (
        ("scheduled", "Scheduled payout", False),
        ("on_request", "On the affiliate's request", False),
        ("other", "Other", True),
    ),
    "hosting.reveal_secret": (
        ("client_request", "The client asked for it", False),
        ("migration", "Migration", False),
        ("troubleshooting", "Troubleshooting", False),
        ("other", "Other", True),
    ),
}
