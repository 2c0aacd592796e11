"""Point 3: the Databricks shortcut keeps only the workspace's https origin, refuses what is not a
workspace URL, runs on Enter, and names every typed value it replaces."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from lakegate.studio.shortcut import workspace_url

from .browsing import settled, signed_in
from .conftest import RunningStudio


def fill(page: Page, url: str) -> None:
    page.locator("#f-databricks_host").fill(url)
    page.locator("#f-databricks_host").press("Enter")
    settled(page)


def test_enter_runs_fill_and_only_the_origin_is_kept(
    browser: Browser, studio: RunningStudio
) -> None:
    with signed_in(browser, studio) as page:
        page.goto(f"{studio.url}/connectors/new")
        fill(page, "https://adb-1234567890123456.7.azuredatabricks.net/?o=1234567890123456#")
        host = "https://adb-1234567890123456.7.azuredatabricks.net"
        expect(page.locator("#f-base_url")).to_have_value(host)
        expect(page.locator("#f-token_url")).to_have_value(f"{host}/oidc/v1/token")
        expect(page.locator("#f-description")).to_have_value(
            "Databricks workspace 1234567890123456"
        )  # the Azure workspace id, kept where it is useful
        expect(page.locator(".note")).to_contain_text("?o=1234567890123456")
        expect(page.locator(".error-summary")).to_have_count(0)  # Enter did not try to save
        fill(page, "dbc-1234.cloud.databricks.com/sql/editor?o=1#notebook/2")
        expect(page.locator("#f-base_url")).to_have_value("https://dbc-1234.cloud.databricks.com")
    assert not studio.project.exists()


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("not a url", "not a workspace URL"),
        ("ftp://x.y", "https://"),
        ("http://dbc-1234.cloud.databricks.com", "https only"),
        ("", "Type the workspace URL"),
        # The page open after the guide's first step: the account console is not a workspace.
        ("https://accounts.cloud.databricks.com/", "is the account console"),
        ("accounts.azuredatabricks.net/workspaces?o=1", "is the account console"),
    ],
)
def test_what_is_not_a_workspace_url_is_refused(typed: str, problem: str) -> None:
    url, _, found = workspace_url(typed)
    assert url == "" and problem in found


def test_a_bad_url_changes_nothing_and_says_why(browser: Browser, studio: RunningStudio) -> None:
    with signed_in(browser, studio) as page:
        page.goto(f"{studio.url}/connectors/new")
        page.locator("#f-base_url").fill("https://mine.example.com")
        fill(page, "ftp://x.y")
        expect(page.locator("#error-databricks_host")).to_contain_text("https://")
        expect(page.locator("#f-databricks_host")).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#f-base_url")).to_have_value("https://mine.example.com")
        expect(page.locator("#f-token_url")).to_have_value("")


def test_a_typed_value_is_never_replaced_silently(browser: Browser, studio: RunningStudio) -> None:
    with signed_in(browser, studio) as page:
        page.goto(f"{studio.url}/connectors/new")
        page.locator("#f-scope").fill("offline_access")
        page.locator("#f-client_id").fill("my-app")
        fill(page, "https://dbc-1234.cloud.databricks.com")
        expect(page.locator("#f-scope")).to_have_value("sql all-apis")
        note = page.locator(".note")
        expect(note).to_contain_text("Replaced what you had typed")
        expect(note).to_contain_text("Scope (was “offline_access”)")
        expect(note).to_be_focused()  # the message about what changed is where focus lands
        expect(page.locator("#f-client_id")).to_have_value("my-app")  # not the shortcut's
