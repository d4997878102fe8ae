"""What a channel refuses or fails at, on the one :class:`~wayfare.errors.WayfareError` tree.

    WayfareError
    └── ChannelError            a message could not be handed to a provider
        ├── TargetRefused       the destination is not allowed (SSRF guard: loopback, private, metadata ...)
        ├── Rejected            the provider said no for good (4xx): do not retry, fix the input
        └── Retryable           the provider is down, slow or busy (5xx, 429, timeout): try again later
"""

from __future__ import annotations

from ..errors import WayfareError

__all__ = ["ChannelError", "TargetRefused", "Rejected", "Retryable"]


class ChannelError(WayfareError):
    def __init__(self, message: str, status: int | None = None, code: str | int | None = None):
        self.status, self.code = status, code
        super().__init__(message)


class TargetRefused(ChannelError):
    pass


class Rejected(ChannelError):
    pass


class Retryable(ChannelError):
    pass
