"""wayfare: see and run your whole customer journey.

    >>> import wayfare
    >>> wb = wayfare.open("wayfare.db", workspace="default")   # doctest: +SKIP
    >>> wb.funnel(["Menu Viewed", "Order Completed"])           # doctest: +SKIP
    >>> store = wayfare.open_store("wayfare.db")                # doctest: +SKIP
    >>> scope = store.scope("default")                           # one workspace of it

``open`` and ``Workbench`` (the analyst's API, ``wayfare.api``) load on first use, so ``import wayfare`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from .errors import WayfareError  # noqa: E402
from .store import Scope, Store, open_store  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    from .api import Workbench, open  # noqa: A004

__all__ = ["__version__", "WayfareError", "Scope", "Store", "open_store", "open", "Workbench"]

_LAZY = {"open": "api", "Workbench": "api"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'wayfare' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
