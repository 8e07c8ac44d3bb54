"""The console in a real browser, against repositories published with the real notary CLI.

The pages must show exactly what ``notary list`` and ``notary delegation list``
say; a user with pull rights on one repository must not learn of another by
any page, URL or search; names carrying HTML and script payloads must be shown
as text (nothing runs: no ``script`` or injected element in the DOM, nothing
in the browser's console).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.console.browser import browser_log
from tests.console.conftest import ADMIN, ADMIN_PASSWORD, ConsoleServer
from tests.console.screenshots import ENV, take_screenshots
from tests.interop.test_cli_against_our_server import parse_delegation_list

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = [pytest.mark.gotools, pytest.mark.browser]

WAIT = 20.0
CONSOLE_SCOPE = ("registry", "console", ("view",))


def wait_for(driver: WebDriver, css: str) -> None:
    WebDriverWait(driver, WAIT).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def sign_in_password(driver: WebDriver, console: ConsoleServer) -> None:
    driver.delete_all_cookies()
    driver.get(console.base + "/login")
    driver.find_element(By.ID, "username").send_keys(ADMIN)
    driver.find_element(By.ID, "password").send_keys(ADMIN_PASSWORD + Keys.ENTER)
    wait_for(driver, "table#repositories")


def sign_in_token(driver: WebDriver, console: ConsoleServer, token: str) -> None:
    driver.delete_all_cookies()
    driver.get(console.base + "/login")
    driver.find_element(By.ID, "token").send_keys(token)
    before = driver.find_element(By.TAG_NAME, "h1")
    driver.find_element(By.CSS_SELECTOR, "#token-login button").click()
    WebDriverWait(driver, WAIT).until(expected_conditions.staleness_of(before))
    wait_for(driver, "main h1")


def page(driver: WebDriver, console: ConsoleServer, name: str, **query: str) -> None:
    driver.get(f"{console.base}/{name}" + (f"?{urlencode(query)}" if query else ""))
    wait_for(driver, "main h1")


def rows(driver: WebDriver, table: str) -> list[list[str]]:
    found = driver.find_elements(By.CSS_SELECTOR, f"table#{table} tbody tr")
    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in found]


def listed_guns(driver: WebDriver) -> list[str]:
    return [a.text for a in driver.find_elements(By.CSS_SELECTOR, "table#repositories a.gun")]


def prefix(console: ConsoleServer) -> str:
    return console.guns["app"].rsplit("/", 1)[0] + "/"


def test_repositories_page_shows_what_was_published(
    console: ConsoleServer, driver: WebDriver
) -> None:
    sign_in_password(driver, console)
    page(driver, console, "repositories", q=prefix(console))
    expected = sorted(console.guns.values())
    assert listed_guns(driver) == expected
    by_gun = {row[0]: row for row in rows(driver, "repositories")}
    for gun in expected:
        listing = console.cli("reader").list_targets(gun)
        assert by_gun[gun][1] == str(len(listing)), gun
        assert by_gun[gun][3] == ADMIN  # the audit actor of the last publish
    roles = by_gun[console.guns["app"]][4]
    for role in ("root", "targets", "targets/releases", "snapshot", "timestamp"):
        assert role in roles
    page(driver, console, "repositories", q=prefix(console), sort="-gun")
    assert listed_guns(driver) == sorted(expected, reverse=True)
    assert browser_log(driver) == []


def test_repository_page_matches_notary_list_and_delegation_list(
    console: ConsoleServer, driver: WebDriver
) -> None:
    gun = console.guns["app"]
    sign_in_password(driver, console)
    page(driver, console, "repository", gun=gun)
    reader = console.cli("reader")
    listed = {(t.name, t.sha256) for t in reader.list_targets(gun)}
    shown = rows(driver, "tags")
    assert {(row[0], row[1]) for row in shown} == listed
    assert {row[0]: row[2] for row in shown} == {
        "v1": "Repo Admin",
        "v2": "Repo Admin",
        "v3": "Repo Admin",
    }

    expected = parse_delegation_list(reader.run("delegation", "list", gun).stdout)
    shown_delegations = {
        row[0]: (frozenset(row[1].split(", ")), frozenset(row[2].split()), int(row[3]))
        for row in rows(driver, "delegations")
    }
    assert shown_delegations == {
        name: (d.paths, d.keyids, d.threshold) for name, d in expected.items()
    }
    assert driver.find_elements(By.CSS_SELECTOR, "figure.timeline svg line.today")
    assert len(rows(driver, "roots")) >= 1
    assert any(row[2] == "update" and row[4] == ADMIN for row in rows(driver, "changes"))
    assert browser_log(driver) == []


def test_user_with_one_repository_sees_no_other(console: ConsoleServer, driver: WebDriver) -> None:
    app, other = console.guns["app"], console.guns["other"]
    token = console.token([CONSOLE_SCOPE, ("repository", app, ("pull",))], subject="carol")
    sign_in_token(driver, console, token)
    assert driver.find_element(By.ID, "signed-in-as").text == "carol"

    page(driver, console, "repositories")
    assert listed_guns(driver) == [app]
    for query in (prefix(console), other, "example.com/", other[:-2]):
        page(driver, console, "repositories", q=query)
        table = driver.find_element(By.ID, "repositories").get_attribute("outerHTML") or ""
        assert other not in table.replace(f"“{query}”", "")  # its caption repeats the query
        assert listed_guns(driver) in ([], [app])
    page(driver, console, "repositories", after="")
    assert listed_guns(driver) == [app]

    page(driver, console, "repository", gun=other)
    hidden = driver.find_element(By.ID, "message").text
    page(driver, console, "repository", gun=other + "-does-not-exist")
    assert driver.find_element(By.ID, "message").text == hidden == "No such repository."
    assert "secret-tag" not in driver.page_source

    page(driver, console, "expiring", within="3650")
    shown = {row[0] for row in rows(driver, "expiring")}
    assert shown == {app}

    page(driver, console, "server")
    assert driver.find_element(By.ID, "message").text.startswith("The server page needs")
    for gun in (other, app):  # no purge rights on either
        page(driver, console, "recovery", gun=gun)
        assert driver.find_element(By.ID, "message").text == "No such repository."
    assert other not in driver.page_source

    # A token without the console scope does not sign in at all.
    plain = console.token([("repository", other, ("pull",))], subject="dave")
    sign_in_token(driver, console, plain)
    assert driver.find_element(By.ID, "login-error").text == "Sign-in failed."
    page(driver, console, "repositories")
    assert driver.current_url.endswith("/login")
    browser_log(driver)


def test_hostile_names_are_shown_as_text(console: ConsoleServer, driver: WebDriver) -> None:
    hostile = console.guns["hostile"]
    sign_in_password(driver, console)
    browser_log(driver)
    page(driver, console, "repositories", q=hostile)
    assert listed_guns(driver) == [hostile]
    driver.find_element(By.CSS_SELECTOR, "table#repositories a.gun").click()
    wait_for(driver, "table#tags")
    assert driver.find_element(By.ID, "gun").text == hostile
    assert [row[0] for row in rows(driver, "tags")] == ['<script>alert("t")</script>']
    page(driver, console, "expiring", within="3650")
    page(driver, console, "recovery", gun=hostile)
    assert driver.find_element(By.ID, "purge-gun").get_attribute("value") == hostile
    for name in ("repository", "recovery"):
        page(driver, console, name, gun=hostile)
        assert driver.find_elements(By.TAG_NAME, "script") == []
        assert driver.find_elements(By.TAG_NAME, "img") == []
        assert driver.execute_script("return typeof window.alert_ran") == "undefined"
    assert browser_log(driver) == []


def test_purge_flow_end_to_end(console: ConsoleServer, driver: WebDriver) -> None:
    doomed = console.guns["doomed"]
    sign_in_password(driver, console)
    page(driver, console, "recovery")
    field = driver.find_element(By.ID, "purge-gun")
    assert driver.find_element(By.CSS_SELECTOR, "label[for=purge-gun]").text
    field.send_keys(doomed + Keys.ENTER)  # the keyboard alone, from here on
    wait_for(driver, "table#plan")
    planned = rows(driver, "plan")
    metadata = {row[1].split()[0] for row in planned if row[0] == "metadata"}
    assert metadata == {"root", "targets", "snapshot", "timestamp"}, planned

    token = console.token([("repository", doomed, ("pull",))], subject="checker")
    headers = {"Authorization": f"Bearer {token}"}
    confirm = driver.find_element(By.ID, "confirm")
    assert driver.find_element(By.CSS_SELECTOR, "label[for=confirm]").text
    confirm.send_keys(doomed + "x" + Keys.ENTER)  # a typo: refused, nothing removed
    wait_for(driver, "#purge-error")
    assert console.server.request("GET", api_path(doomed), headers=headers)[0] == 200
    driver.find_element(By.ID, "confirm").send_keys(doomed)
    driver.switch_to.active_element.send_keys(Keys.TAB)
    assert driver.switch_to.active_element.get_attribute("id") == "purge"
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait_for(driver, "#done")
    assert console.server.request("GET", api_path(doomed), headers=headers)[0] == 404
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "notary_server",
            "admin",
            "show",
            doomed,
            "--config",
            str(console.server.config_path),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert f"purge by console:{ADMIN}" in shown, shown
    logged = browser_log(driver)
    assert [e for e in logged if "status of 409" not in e["message"]] == [], logged


def api_path(gun: str) -> str:
    return f"/v2/{quote(gun)}/_trust/tuf/root.json"


def admin(console: ConsoleServer, *args: str) -> str:
    argv = [sys.executable, "-m", "notary_server", "admin", *args]
    argv += ["--config", str(console.server.config_path)]
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout


def test_expiring_page_matches_admin_expiring(console: ConsoleServer, driver: WebDriver) -> None:
    sign_in_password(driver, console)
    page(driver, console, "expiring", within="1200")
    reported = admin(console, "expiring", "--within", "1200d").splitlines()
    expected = set()
    for line in reported[:-1]:
        gun, what, _ = line.split("  ")
        kind, _, name = what.partition(" ")
        expected.add((gun, kind, name))
    shown = {(row[0], row[1], row[2]) for row in rows(driver, "expiring")}
    assert shown == expected
    assert expected  # targets and delegations expire within three years
    summary = driver.find_element(By.ID, "summary").text
    assert summary.startswith(f"{len(expected)} items expire within 1200 days")
    assert reported[-1].split(" within ")[1].split(": ")[1] in summary
    assert driver.find_elements(By.CSS_SELECTOR, "figure.timeline svg line.today")


def test_server_page_shows_health_and_requests(console: ConsoleServer, driver: WebDriver) -> None:
    sign_in_password(driver, console)
    page(driver, console, "server")
    health = {row[0]: row[1] for row in rows(driver, "health")}
    assert health == {"storage": "healthy", "signer": "healthy"}
    served = {(row[0], row[1]) for row in rows(driver, "requests")}
    assert ("UpdateTUF", "200") in served  # the CLI's publishes
    assert driver.find_element(By.ID, "hit-rate").text.endswith(" lookups")  # the CLI's reads
    assert browser_log(driver) == []


def test_screenshots_of_every_page(
    console: ConsoleServer, driver: WebDriver, tmp_path: Path
) -> None:
    """Each page at desktop and narrow widths (into docs/console/ with ``make screenshots``)."""
    directory = Path(os.environ.get(ENV) or tmp_path)
    driver.delete_all_cookies()
    signed_out = take_screenshots(driver, console.base, {"login": ("login", {})}, directory)
    sign_in_password(driver, console)
    pages = {
        "repositories": ("repositories", {"q": prefix(console)}),
        "repository": ("repository", {"gun": console.guns["app"]}),
        "expiring": ("expiring", {"within": "1200"}),
        "server": ("server", {}),
        "recovery": ("recovery", {"gun": console.guns["other"]}),
    }
    written = signed_out + take_screenshots(driver, console.base, pages, directory)
    assert len(written) == 2 * (len(pages) + 1)
    for path in written:
        assert path.read_bytes().startswith(b"\x89PNG"), path
    assert [e for e in browser_log(driver) if e["level"] == "SEVERE"] == []


UNLABELLED = """
return Array.from(document.querySelectorAll('input, select, textarea, button'))
  .filter(e => e.type !== 'hidden')
  .filter(e => e.tagName === 'BUTTON'
    ? !e.textContent.trim()
    : !(e.id && document.querySelector('label[for="' + e.id + '"]'))
      && !e.getAttribute('aria-label'))
  .map(e => e.outerHTML);
"""
HEADERLESS = """
return Array.from(document.querySelectorAll('table'))
  .filter(t => t.querySelectorAll('th').length === 0).map(t => t.id);
"""


def test_every_table_has_headers_and_every_control_a_label(
    console: ConsoleServer, driver: WebDriver
) -> None:
    driver.delete_all_cookies()
    page(driver, console, "login")
    assert driver.execute_script(UNLABELLED) == []
    sign_in_password(driver, console)
    for name, query in (
        ("repositories", {"q": prefix(console)}),
        ("repository", {"gun": console.guns["app"]}),
        ("expiring", {"within": "1200"}),
        ("server", {}),
        ("recovery", {"gun": console.guns["other"]}),
    ):
        page(driver, console, name, **query)
        assert driver.find_elements(By.TAG_NAME, "table"), name
        assert driver.execute_script(HEADERLESS) == [], name
        assert driver.execute_script(UNLABELLED) == [], name
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
