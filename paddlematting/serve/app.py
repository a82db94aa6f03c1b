"""The ASGI app: ``create_app(settings)`` (tests, embedding) and ``app_from_env()`` (the
factory uvicorn's worker processes call, settings from ``$PADDLEMATTING_SERVE_SETTINGS``).

Why FastAPI on uvicorn: both are maintained and widely deployed, FastAPI writes the OpenAPI
docs from the routes, and uvicorn's SIGTERM handling stops accepting connections and lets
the requests in flight finish, which is the graceful shutdown asked for.
"""
import contextlib
from typing import Optional

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .chain import ServedModels
from .errors import install_error_handlers
from .metrics import MetricsMiddleware
from .routes import ENDPOINTS, STATIC_DIR, router
from .settings import ServeSettings
from .worker import Worker

__all__ = ['create_app', 'app_from_env']


def create_app(settings: ServeSettings, models: Optional[ServedModels] = None) -> FastAPI:
    """The app for ``settings``; its models load at startup (a bad one stops the server)."""
    worker = Worker(settings, models)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await worker.start()
        yield
        worker.stop()

    app = FastAPI(title='paddlematting serve', version='1', lifespan=lifespan,
                  description='Background removal over HTTP: POST /api/remove (rembg-compatible '
                              'names), the page at /, Prometheus metrics at /metrics.')
    app.state.worker = worker
    install_error_handlers(app)
    app.include_router(router)
    app.mount('/static', StaticFiles(directory=STATIC_DIR), name='static')
    app.add_middleware(MetricsMiddleware, metrics=worker.metrics, endpoints=ENDPOINTS)
    return app


def app_from_env() -> FastAPI:
    """uvicorn's factory in each worker process."""
    return create_app(ServeSettings.from_env())
