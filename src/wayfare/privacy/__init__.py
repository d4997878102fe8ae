"""Consent records, the suppression list, the audit log (and, as they land, export, erase, retention)."""

from .suppression import address_hash, audit, consent_status, is_suppressed, record_consent, suppress, unsuppress

__all__ = ["address_hash", "audit", "consent_status", "is_suppressed", "record_consent", "suppress", "unsuppress"]
