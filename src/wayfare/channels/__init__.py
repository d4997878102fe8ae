"""Channels: email over SMTP with sandboxed templates (SMS and webhooks to come)."""

from .email import SmtpSettings, build_message, deliver, render, smtp_settings

__all__ = ["SmtpSettings", "build_message", "deliver", "render", "smtp_settings"]
