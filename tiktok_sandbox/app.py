"""The ASGI application: API, consent and person-facing pages, control API and static files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from tiktok_sandbox import api, control, portal
from tiktok_sandbox.config import Settings
from tiktok_sandbox.sandbox import Sandbox


async def not_found(request: Request, exc: Exception) -> Response:
    # What TikTok's gateway answers for an unknown path or a missing trailing slash (§1).
    return PlainTextResponse("404 page not found", status_code=404)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    sandbox = Sandbox(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        sandbox.close()

    static = StaticFiles(directory=str(Path(__file__).parent / "static"))
    app = Starlette(
        routes=[*api.routes(), *portal.routes(), *control.routes(), Mount("/static", static)],
        exception_handlers={404: not_found},
        lifespan=lifespan,
    )
    # TikTok does not redirect /path to /path/: it answers 404 (§1).
    app.router.redirect_slashes = False
    app.state.sandbox = sandbox
    return app
