"""Debian's chromium through chromedriver, for the console's browser tests.

The browser is a hard requirement in CI (``.ci/run`` installs ``chromium`` and
``chromium-driver``): without it a test fails when ``CI=true`` and skips
elsewhere. As root, chromium needs ``--no-sandbox``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

__all__ = ["CHROMEDRIVER", "CHROMIUM", "browser_log", "new_driver", "require_browser"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DESKTOP = (1280, 900)
NARROW = (420, 900)


def require_browser() -> None:
    """Skip (or fail on CI) unless chromium and chromedriver are installed."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if not missing:
        return
    reason = f"{', '.join(missing)} missing; apt-get install chromium chromium-driver"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def new_driver(size: tuple[int, int] = DESKTOP) -> WebDriver:
    """A headless chromium that accepts the test servers' certificates and keeps its console log."""
    from selenium import webdriver  # noqa: PLC0415 - only when a browser test runs
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    require_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--ignore-certificate-errors",
        "--no-proxy-server",
        f"--window-size={size[0]},{size[1]}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def browser_log(driver: WebDriver) -> list[dict[str, Any]]:
    """The browser console's entries since the last call."""
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[attr-defined]
    return entries
