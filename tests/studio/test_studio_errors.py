"""Point 2: with JavaScript on, every failure shows in the page: the Studio stopped, the session
ended (with the way back in, and nothing typed lost), a refusal, a server error; a failed save
lands on its error summary with every problem listed at once."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from lakegate.project import load_project
from lakegate.workspace import LocalWorkspace

from .browsing import new_shop_connector, seed, settled, signed_in
from .conftest import RunningStudio


def fill_shop(page: Page, studio: RunningStudio) -> None:
    new_shop_connector(page, studio)
    page.locator("#f-auth_type").select_option("bearer")
    expect(page.locator("#f-token")).to_be_visible()
    settled(page)
    page.locator("#f-token").fill("${env:SHOP_TOKEN}")


def test_the_studio_stopped_mid_edit_says_so_and_keeps_the_edits(
    browser: Browser, studio: RunningStudio
) -> None:
    with signed_in(browser, studio) as page:
        fill_shop(page, studio)
        studio.server.stop()
        page.get_by_role("button", name="Save connector").click()
        banner = page.locator("#studio-banner")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("did not answer")
        expect(banner).to_contain_text("lakegate studio")
        expect(banner).to_be_focused()
        expect(page.locator("#f-name")).to_have_value("shop")
        expect(page.locator("#f-base_url")).to_have_value("https://shop.example.com")
    assert not studio.project.exists()


def test_the_session_ending_mid_edit_shows_how_to_get_back_and_loses_nothing(
    browser: Browser, studio: RunningStudio
) -> None:
    with signed_in(browser, studio) as page:
        fill_shop(page, studio)
        page.context.clear_cookies()
        page.get_by_role("button", name="Save connector").click()
        banner = page.locator("#studio-banner")
        expect(banner).to_contain_text("session has ended")
        expect(banner).to_contain_text("lakegate studio")  # how to get a new link
        expect(page.locator("#f-name")).to_have_value("shop")
        assert not studio.project.exists()

        # A new link opened in another tab, then back here: the same edits save.
        page.context.new_page().goto(studio.login_url())
        page.get_by_role("button", name="I opened the new link").click()
        expect(banner).to_contain_text("Signed in again")
        page.get_by_role("button", name="Save connector").click()
        page.wait_for_url("**/connectors/shop?saved=1")
    assert load_project(studio.project).connectors["shop"].auth.token == "${env:SHOP_TOKEN}"


def test_a_refusal_and_a_server_error_show_in_the_page(
    browser: Browser, studio: RunningStudio, monkeypatch: pytest.MonkeyPatch
) -> None:
    with signed_in(browser, studio) as page:
        fill_shop(page, studio)
        page.evaluate(
            "document.body.setAttribute('hx-headers', JSON.stringify({'X-CSRF-Token': 'x'}));"
            "document.querySelectorAll('input[name=csrf_token]').forEach(i => i.value = 'x')"
        )
        page.get_by_role("button", name="Save connector").click()
        banner = page.locator("#studio-banner")
        expect(banner).to_contain_text("session has ended")  # a token of no live session
        page.get_by_role("button", name="I opened the new link").click()
        expect(banner).to_contain_text("Signed in again")  # the session itself was alive

        def broken() -> None:
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(studio.server.studio, "project", broken)
        page.get_by_role("button", name="Save connector").click()
        expect(banner).to_contain_text("HTTP 500")
        expect(banner).to_contain_text("nothing was saved")
        expect(page.locator("#f-name")).to_have_value("shop")
    assert not studio.project.exists()


def test_a_failed_save_lists_every_problem_at_once_and_takes_the_focus(
    browser: Browser, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    seed(studio, workspace)
    before = studio.project.read_text()
    with signed_in(browser, studio, width=1280, height=720) as page:
        page.goto(f"{studio.url}/actions/new?connector=databricks")
        expect(page.locator("body")).not_to_contain_text("Saved")  # nothing looks done yet
        page.get_by_role("tab", name="Body").click()
        page.locator("#f-body").fill('{"a": ')
        page.get_by_role("tab", name="Output").click()
        page.locator("#f-output").fill("[[")
        page.get_by_role("button", name="Save action").click()
        summary = page.locator(".error-summary")
        expect(summary).to_be_focused()
        expect(summary).to_be_in_viewport()
        for field in ("Name", "Path", "Body", "Output projection"):
            expect(summary.get_by_role("link", name=field)).to_be_visible()
        expect(page.locator("body")).not_to_contain_text("Saved")
        # The Body tab shows which tab holds a problem; a fixed field drops its stale error.
        page.locator("#f-name").fill("list_warehouses")
        expect(summary.get_by_role("link", name="Name")).to_have_count(0)
    assert studio.project.read_text() == before
