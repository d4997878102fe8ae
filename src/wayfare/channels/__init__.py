"""Channels: email over SMTP with sandboxed templates, SMS over a Twilio-compatible API, signed webhooks
with an SSRF guard, signed tracking links (unsubscribe, open, click), bounces and double opt-in."""

from .email import SmtpSettings, build_message, deliver, preview, render, smtp_settings
from .errors import ChannelError, Rejected, Retryable, TargetRefused
from .sms import SmsSettings, send_sms, sms_settings
from .tracking import decorate, unsubscribe_url
from .webhook import check_target, verify_signature
from .webhook import deliver as deliver_webhook

__all__ = ["SmtpSettings", "build_message", "deliver", "preview", "render", "smtp_settings", "ChannelError",
           "Rejected", "Retryable", "TargetRefused", "SmsSettings", "send_sms", "sms_settings", "decorate",
           "unsubscribe_url", "check_target", "verify_signature", "deliver_webhook"]
