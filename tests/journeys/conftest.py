"""Canvases, steps and profiles for engine tests, written through the product's own paths."""

from __future__ import annotations

import pytest
from django.utils import timezone

from appgroups.models import Profile
from appgroups.services.profiles import profiles_track
from appgroups.tracking import parse_track_body
from canvas.models import Branch, Canvas, CanvasState, Step, StepType


@pytest.fixture
def make_profiles(app_group):
    """Write profiles as /users/track would (normalized and hashed); returns them by external id."""

    def make(*attributes: dict) -> dict[str, Profile]:
        batch = parse_track_body(
            {"attributes": list(attributes)},
            default_country=app_group.default_country,
            now=timezone.now(),
        )
        outcome = profiles_track(app_group=app_group, batch=batch)
        assert not outcome.errors, outcome.errors
        ids = [a["external_id"] for a in attributes]
        return {p.external_id: p for p in Profile.objects.filter(external_id__in=ids)}

    return make


@pytest.fixture
def active_canvas(app_group):
    return Canvas.objects.create(app_group=app_group, name="Journey", state=CanvasState.ACTIVE)


def add_step(canvas, step_type, *, parent=None, branch=Branch.NEXT, name="", **config) -> Step:
    return Step.objects.create(
        canvas=canvas, step_type=step_type, parent=parent, branch=branch, name=name,
        config=config,
    )  # fmt: skip


@pytest.fixture
def step():
    return add_step


__all__ = ["StepType", "add_step"]
