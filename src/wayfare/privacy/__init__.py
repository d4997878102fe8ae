"""Consent records, the suppression list, the audit log, export, erase and retention."""

from .compact import rewrite_file
from .erase import erase_person, person_ids
from .export import export_person, write_export
from .exports import csv_text, safe_cell, write_csv
from .suppression import address_hash, audit, consent_status, is_suppressed, record_consent, suppress, unsuppress

__all__ = ["address_hash", "audit", "consent_status", "is_suppressed", "record_consent", "suppress", "unsuppress",
           "erase_person", "person_ids", "export_person", "write_export", "rewrite_file", "safe_cell", "write_csv",
           "csv_text"]
