"""The FastAPI app: API routers and (as they land) the dashboard."""

from .app import ROUTER_FACTORIES, STARTUP_HOOKS, AppState, create_app, serve

__all__ = ["AppState", "ROUTER_FACTORIES", "STARTUP_HOOKS", "create_app", "serve"]
