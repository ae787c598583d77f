"""`.venv/bin/python -m chaos [SCENARIO ...] [--users N]` from the repository root (`make chaos`
runs them all; `make chaos CHAOS_ARGS="workers-killed --users 5000"` one, smaller).

Starts a private PostgreSQL, Redis and TikTok sandbox on 127.0.0.1, runs each scenario of
chaos/scenarios.py against workers and beat running with production settings, prints every
check and figure, writes them to var/chaos/results-<time>.json, and exits non-zero if any
check failed. Each scenario stops by itself (time limits included). docs/RELIABILITY.md holds
the latest figures.
"""

from __future__ import annotations

import argparse
import inspect
import json
import signal
import sys
import time
from datetime import UTC, datetime

from bench.support import ROOT, machine
from chaos.harness import Deployment
from chaos.load import api_load
from chaos.scenarios import SCENARIOS, Result

SCENARIOS = {**SCENARIOS, "load": api_load}


def main() -> int:
    # SIGTERM (a CI time limit, kill) unwinds like Ctrl-C, so every process we started stops.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=", ".join(SCENARIOS))
    parser.add_argument("--users", type=int, help="users per scenario (default: each one's own)")
    parser.add_argument("--load-seconds", type=int, default=180, help="how long `load` lasts")
    args = parser.parse_args()
    names = args.scenarios or list(SCENARIOS)
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        parser.error(
            f"unknown scenario {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}"
        )
    results: list[Result] = []
    started = time.monotonic()
    with Deployment() as d:
        versions = f"{d.postgres.version()}, {d.redis.version()}"
        print(f"machine: {machine()}\nservices: {versions}\n", flush=True)
        for name in names:
            scenario = SCENARIOS[name]
            kwargs = {}
            parameters = inspect.signature(scenario).parameters
            if args.users and "users" in parameters:
                kwargs["users"] = args.users
            if "seconds" in parameters:
                kwargs["seconds"] = args.load_seconds
            t0 = time.monotonic()
            try:
                result = scenario(d, **kwargs)
            except Exception as exc:  # a scenario that breaks is a failed scenario, not a crash
                result = Result(name, kwargs.get("users", 0))
                result.check("scenario ran to the end", False, f"{type(exc).__name__}: {exc}")
            result.figures["scenario seconds"] = round(time.monotonic() - t0, 1)
            results.append(result)
            report(result)
    out = ROOT / "var" / "chaos" / f"results-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": machine(),
                "services": versions,
                "results": [
                    {
                        "name": r.name,
                        "users": r.users,
                        "passed": r.passed,
                        "checks": r.checks,
                        "figures": r.figures,
                    }
                    for r in results
                ],
            },
            indent=2,
        )  # fmt: skip
    )
    failed = [r.name for r in results if not r.passed]
    print(f"\n{len(results) - len(failed)}/{len(results)} scenarios passed in "
          f"{time.monotonic() - started:.0f} s; results in {out}")  # fmt: skip
    return 1 if failed else 0


def report(result: Result) -> None:
    print(f"{'PASS' if result.passed else 'FAIL'} {result.name} ({result.users:,} users)")
    for what, ok, detail in result.checks:
        print(f"  [{'ok' if ok else 'FAILED'}] {what}{f': {detail}' if detail else ''}")
    for name, value in result.figures.items():
        print(f"  {name}: {value}")
    print(flush=True)


if __name__ == "__main__":
    sys.exit(main())
