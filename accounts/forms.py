from __future__ import annotations

from django import forms


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code",
        max_length=16,
        help_text="The 6-digit code from your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class ConfirmForm(forms.Form):
    token = forms.CharField(
        label="Code from the app",
        max_length=6,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=500)


class UnlockForm(ReasonForm):
    username = forms.CharField(required=False, max_length=255, widget=forms.HiddenInput)
    ip = forms.GenericIPAddressField(required=False, widget=forms.HiddenInput)
