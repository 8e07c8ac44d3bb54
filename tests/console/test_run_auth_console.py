"""``make run-auth`` turns the console on; its banner says where and how to sign in."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from testkit.gotools import free_port, require_go_tools
from tests.console.browser import browser_log, new_driver
from tests.deploy.test_run_embedded import STARTUP_TIMEOUT, _stop, launcher

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.gotools, pytest.mark.browser, pytest.mark.timeout(300)]


def test_run_auth_prints_the_console_and_its_sign_in(tmp_path: Path) -> None:
    require_go_tools()
    data = tmp_path / "notary-data"
    server_port, signer_port = free_port(), free_port()
    console = f"https://127.0.0.1:{server_port}/_notary_server/console/"
    driver = new_driver()
    try:
        with launcher(data, server_port, signer_port, "--auth") as run:
            out = run.read_until("admin htpasswd", STARTUP_TIMEOUT)
            assert f"The operator console: {console}" in out, out
            found = re.search(r"\(sign in as (\S+) with the password in (\S+)\)\.", out)
            assert found, out
            user, password = found[1], (data / found[2].rsplit("/", 1)[-1]).read_text().strip()
            driver.get(console)
            driver.find_element(By.ID, "username").send_keys(user)
            driver.find_element(By.ID, "password").send_keys(password + Keys.ENTER)
            WebDriverWait(driver, 20).until(
                expected_conditions.presence_of_element_located((By.ID, "repositories"))
            )
            assert driver.find_element(By.ID, "signed-in-as").text == user
            assert browser_log(driver) == []
            _stop(run)
    finally:
        driver.quit()
