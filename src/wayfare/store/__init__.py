"""Connections, schema and migrations, and the tenant-scoped access every domain goes through."""

from .keys import create_key, list_keys, revoke_key, verify_key
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
