"""The one exception tree of wayfare.

    WayfareError                  anything wayfare refuses, with a message that says what and where
    ├── StoreError                the store cannot be opened, migrated or written
    ├── NotFound                  a workspace, person, key, flow ... that does not exist
    ├── ValidationError           input that breaks a rule; carries ``where`` (file:line, field path)
    │   └── ImportError_          a CSV import that was refused (nothing of it was written)
    └── AuthError                 a missing, wrong, revoked or out-of-scope key
"""

from __future__ import annotations

__all__ = ["WayfareError", "StoreError", "NotFound", "ValidationError", "ImportRefused", "AuthError"]


class WayfareError(Exception):
    """Base class: the message is meant for a person and says what to do."""


class StoreError(WayfareError):
    pass


class NotFound(WayfareError):
    pass


class ValidationError(WayfareError):
    def __init__(self, message: str, where: str | None = None, errors: list[dict] | None = None):
        self.where = where
        self.errors = errors or []
        super().__init__(f"{where}: {message}" if where else message)


class ImportRefused(ValidationError):
    """A file was refused as a whole; ``errors`` lists each problem with file, line and column."""


class AuthError(WayfareError):
    pass
