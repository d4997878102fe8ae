"""wayfare: see and run your whole customer journey.

    >>> import wayfare
    >>> wb = wayfare.open("wayfare.db", workspace="default")   # doctest: +SKIP
    >>> wb.funnel(["Menu Viewed", "Order Completed"])           # doctest: +SKIP
    >>> store = wayfare.open_store("wayfare.db")                # doctest: +SKIP
    >>> scope = store.scope("default")                           # one workspace of it

``open`` and ``Workbench`` (the analyst's API, ``wayfare.api``) and the store load on first use, so
``import wayfare`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy

__version__ = "0.1.0"

from .errors import WayfareError  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    from .api import Workbench, open  # noqa: A004
    from .store import Scope, Store, open_store

__all__ = ["__version__", "WayfareError", "Scope", "Store", "open_store", "open", "Workbench"]

# loaded on first use: a process that needs one corner of wayfare (the ingest parsing processes) does not pay for
# the store's database engine and pandas (~80 MB of memory)
_LAZY = {"open": "api", "Workbench": "api", "Scope": "store", "Store": "store", "open_store": "store"}

__getattr__, __dir__ = lazy(__name__, _LAZY, __all__)
