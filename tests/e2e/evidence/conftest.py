"""The evidence end-to-end tests reuse the integration suite's platform factory and the
camera simulator fixture, and share one headless Chromium per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from tests.integration.conftest import platform_factory
from tests.integration.evidence.conftest import simulator

__all__ = ["browser", "platform_factory", "simulator"]
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--autoplay-policy=no-user-gesture-required",
    "--disable-background-networking", "--disable-component-update",
]  # fmt: skip


@pytest_asyncio.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Any]:
    """Debian's /usr/bin/chromium through Playwright (never `playwright install`)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium"), executable_path="/usr/bin/chromium", headless=True,
            args=CHROMIUM_ARGS,
        )  # fmt: skip
        try:
            yield context
        finally:
            await context.close()
