"""`python -m tiktok_sandbox [--host 127.0.0.1] [--port 8100]`; settings come from the environment."""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util

import uvicorn

from tiktok_sandbox.app import create_app
from tiktok_sandbox.config import Settings


def keep_large_buffers_in_heap() -> None:
    """Ask glibc to serve multi-megabyte buffers from the heap and keep freed memory.

    A 10,000-row mapping body is ~2.3 MB and passes through several buffers; by default glibc
    maps and unmaps each one, and the page faults cost a fifth of the sandbox's CPU on the
    benchmark (bench/sandbox_mapping.py). Harmless where glibc is absent.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    mallopt(m_mmap_threshold, 32 * 1024 * 1024)  # glibc's maximum on 64-bit
    mallopt(m_trim_threshold, 512 * 1024 * 1024)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tiktok_sandbox", description="Local twin of TikTok Business API v1.3."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8100, help="port to listen on (default 8100)")
    parser.add_argument("--access-log", action="store_true", help="log every request to stdout")
    args = parser.parse_args(argv)

    keep_large_buffers_in_heap()
    settings = Settings.from_env()
    app = create_app(settings)
    print(
        f"TikTok sandbox on http://{args.host}:{args.port}/ "
        f"(app {settings.app_id}, data in {settings.data_dir})",
        flush=True,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="info" if args.access_log else "warning",
        access_log=args.access_log,
        # Threads stay out of it: handlers rely on running one at a time on the event loop.
        loop="asyncio",
    )


if __name__ == "__main__":
    main()
