"""Fixtures of the web tests.

The session and mesh tests reuse the platform's app fixtures (``client``/``ctx`` on SQLite and
PostgreSQL, each test rolled back). The browser tests (``test_browser.py``) run a real uvicorn
server on 127.0.0.1 over a fresh SQLite directory seeded with a small demo, and drive Debian's
Chromium through Playwright.
"""

from __future__ import annotations

from tests.platform_api.conftest import api, client, ctx, data_dir, database_url  # noqa: F401
