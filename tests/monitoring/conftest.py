from tests.journeys.conftest import (  # noqa: F401  (fixtures shared with the engine tests)
    active_canvas,
    make_profiles,
    sandbox_tiktok,
    sync_step,
    sync_to_sandbox,
    tiktok,
)
