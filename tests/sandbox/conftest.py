"""Fixtures every sandbox contract test uses: a token, an ad account, an audience."""

import pytest


@pytest.fixture
def token(tiktok_sandbox):
    return tiktok_sandbox.connect()


@pytest.fixture
def advertiser_id(tiktok_sandbox):
    return tiktok_sandbox.advertiser_ids[0]


@pytest.fixture
def audience_id(tiktok_sandbox, token, advertiser_id):
    return tiktok_sandbox.create_audience(token, advertiser_id)
