"""Screenshots of every console page at a desktop and a narrow width.

The browser tests take them into a temporary directory; ``make screenshots``
runs that test with ``NOTARY_CONSOLE_SCREENSHOTS=docs/console`` so that the
documentation's pictures are what the tests saw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from tests.console.browser import DESKTOP, NARROW

if TYPE_CHECKING:
    from pathlib import Path

    from selenium.webdriver.remote.webdriver import WebDriver

__all__ = ["ENV", "take_screenshots"]

ENV = "NOTARY_CONSOLE_SCREENSHOTS"
MAX_HEIGHT = 4000


def _full_page(driver: WebDriver, width: int, path: Path) -> None:
    driver.set_window_size(width, DESKTOP[1])
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(width, min(max(height, DESKTOP[1]), MAX_HEIGHT))
    driver.save_screenshot(str(path))


def take_screenshots(
    driver: WebDriver, base: str, pages: dict[str, tuple[str, dict[str, str]]], directory: Path
) -> list[Path]:
    """Visit ``pages`` (file stem -> (page, query)) at both widths; return the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, (name, query) in pages.items():
        driver.get(f"{base}/{name}" + (f"?{urlencode(query)}" if query else ""))
        for label, (width, _) in (("desktop", DESKTOP), ("narrow", NARROW)):
            path = directory / f"{stem}-{label}.png"
            _full_page(driver, width, path)
            written.append(path)
    driver.set_window_size(*DESKTOP)
    return written
