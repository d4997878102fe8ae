"""Connections, schema and migrations, and the tenant-scoped access every domain goes through."""

from .store import (
    DEFAULT_WORKSPACE,
    TENANT_TABLES,
    Scope,
    Store,
    default_db_path,
    open_store,
    register_migration,
    register_tenant_table,
    utcnow,
)
from .keys import create_key, list_keys, revoke_key, verify_key

__all__ = [
    "DEFAULT_WORKSPACE",
    "TENANT_TABLES",
    "Scope",
    "Store",
    "default_db_path",
    "open_store",
    "register_migration",
    "register_tenant_table",
    "utcnow",
    "create_key",
    "list_keys",
    "revoke_key",
    "verify_key",
]
