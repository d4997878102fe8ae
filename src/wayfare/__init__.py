"""wayfare: see and run your whole customer journey.

    >>> import wayfare
    >>> store = wayfare.open_store("wayfare.db")     # doctest: +SKIP
    >>> scope = store.scope("default")                # one workspace of it
"""

__version__ = "0.1.0"

from .errors import WayfareError  # noqa: E402
from .store import Scope, Store, open_store  # noqa: E402

__all__ = ["__version__", "WayfareError", "Scope", "Store", "open_store"]
