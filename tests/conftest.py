import pytest

from appgroups.models import Role
from tests.factories import AppGroupFactory, MembershipFactory

pytest_plugins = [
    "tests.plugins.browser",
    "tests.plugins.canvases",
    "tests.plugins.celery_worker",
    "tests.plugins.tiktok_sandbox",
]


@pytest.fixture(autouse=True)
def _close_in_flight_connection():
    """The flush marks requests in flight on a second PostgreSQL connection: close it after
    each test, or dropping the test database finds it still in use."""
    yield
    from telemetry.inflight import side_connection_close

    side_connection_close()


@pytest.fixture(autouse=True)
def _english_unless_a_test_says_otherwise():
    """A request through the test client leaves its language active in this thread (Django's
    LocaleMiddleware activates it per request and never resets it): start every test in the
    default language, so a French page in one test does not turn the next test's text French."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _partial_batches_go_when_due(settings):
    """A partial batch waits AUDIENCE_SYNC_BATCH_WAIT_SECONDS for more users before it goes
    (5 s): tests of anything else flush users as soon as they are queued. The tests of that
    wait set it back (tests/audience_sync/test_flush_scheduling.py)."""
    settings.AUDIENCE_SYNC_BATCH_WAIT_SECONDS = 0


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def app_group(db):
    return AppGroupFactory(name="Acme")


@pytest.fixture
def other_app_group(db):
    return AppGroupFactory(name="Globex")


@pytest.fixture
def admin(app_group):
    return MembershipFactory(app_group=app_group, role=Role.ADMIN, user__email="admin@acme.test")


@pytest.fixture
def marketer(app_group):
    return MembershipFactory(
        app_group=app_group, role=Role.MARKETER, user__email="marketer@acme.test"
    )


@pytest.fixture
def viewer(app_group):
    return MembershipFactory(app_group=app_group, role=Role.VIEWER, user__email="viewer@acme.test")


def _client_for(client, membership):
    client.force_login(membership.user)
    return client


@pytest.fixture
def admin_client(client, admin):
    return _client_for(client, admin)


@pytest.fixture
def marketer_client(client, marketer):
    return _client_for(client, marketer)


@pytest.fixture
def viewer_client(client, viewer):
    return _client_for(client, viewer)
