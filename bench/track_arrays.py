"""POST /api/users/track with the worst body the size limit allows: 75 attribute objects whose
custom attribute arrays fill the 4 MB (target: server time under 200 ms, docs/PERFORMANCE.md
"REST /users/track"). Arrays used to be de-duplicated by comparing each item with every one kept
before the 25-item cap applied: an 85 KB body took 5.2 s.

Sets up the benchmark's own database (PostgreSQL by default, DATABASE_URL to choose), creates an
app group and a key, and times the request in this process through Django's test client, so the
figure is the server's own time (parsing, validation, the write), without HTTP.

    .venv/bin/python -m bench.track_arrays
    .venv/bin/python -m bench.track_arrays --requests 5 --bytes 87040
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time

import orjson

from bench.support import django_setup, machine

MAX_OBJECTS = 75


def worst_array_body(max_bytes: int) -> bytes:
    """A /users/track body just under `max_bytes`: 75 attribute objects, each with one array
    `set` and one `add` of distinct strings, as long as the size allows."""

    def body(items_per_array: int) -> bytes:
        objects = [
            {
                "external_id": f"worst-{n}",
                "favourite_colours": [f"c{n}-{i}" for i in range(items_per_array)],
                "visited": {"add": [f"v{n}-{i}" for i in range(items_per_array)]},
            }
            for n in range(MAX_OBJECTS)
        ]
        return orjson.dumps({"attributes": objects})

    low, high = 1, 100_000
    while low < high:  # the longest arrays that still fit
        middle = (low + high + 1) // 2
        if len(body(middle)) <= max_bytes:
            low = middle
        else:
            high = middle - 1
    return body(low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=11)
    parser.add_argument("--bytes", type=int, default=0, help="body size (default: the limit)")
    args = parser.parse_args()
    environment = django_setup(name="track_arrays", fresh=True)

    from django.test import Client

    from api.rest import MAX_BODY_BYTES
    from appgroups.models import ApiPermission, AppGroup, RestApiKey

    body = worst_array_body(args.bytes or MAX_BODY_BYTES - 1024)
    app_group = AppGroup.objects.create(name="Worst arrays")
    secret = secrets.token_hex(16)
    RestApiKey.objects.create(
        app_group=app_group, name="bench", prefix=secret[:8],
        key_sha256=RestApiKey.hash_key(secret), permissions=[ApiPermission.USERS_TRACK],
    )  # fmt: skip
    client = Client(SERVER_NAME="localhost")
    times = []
    for _ in range(args.requests):
        started = time.perf_counter()
        response = client.post(
            "/api/users/track", body, content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )  # fmt: skip
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 201, response.content[:300]
    print(f"machine: {machine()}")
    print(f"database: {environment['DATABASE_URL'].split('@')[-1]}")
    print(f"body: {len(body):,} bytes, 75 objects, 2 arrays each")
    print(
        f"server time per request: median {statistics.median(times):.0f} ms, "
        f"max {max(times):.0f} ms over {len(times)} requests (first includes creating profiles)"
    )


if __name__ == "__main__":
    main()
