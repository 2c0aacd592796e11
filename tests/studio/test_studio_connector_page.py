"""Point 5: a connector's page: an Edit link, Test connection (a token and one cheap call) with
the doctor's diagnosis when it fails, the actions that use it, and messages in the form's words."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from lakegate.workspace import LocalWorkspace

from .browsing import seed, signed_in
from .conftest import RunningStudio

CLI_WORDS = re.compile(r"lakegate secret set|client_auth:|--auth|lakegate\.yaml|`")


def test_edit_and_test_connection_on_a_working_connector(
    browser: Browser, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    seed(studio, workspace, action=True)
    with signed_in(browser, studio) as page:
        page.goto(f"{studio.url}/")
        page.get_by_role("link", name="Edit databricks").click()
        page.wait_for_url("**/connectors/databricks#form-title")
        expect(page.locator("#f-base_url")).to_have_value(workspace.host)
        users = page.locator(".connector-summary ul.users")
        expect(users.get_by_role("link", name="list_warehouses")).to_have_attribute(
            "href", "/actions/list_warehouses"
        )
        page.get_by_role("button", name="Test connection").click()
        result = page.locator("#connection-result")
        expect(result.locator(".badge")).to_have_text("Connected", timeout=20_000)
        expect(result).to_contain_text("token obtained")
        expect(result).to_contain_text("SQL warehouse(s) visible")
        expect(result.locator(".outcome")).to_be_focused()
        assert "list_warehouses" in studio.project.read_text()  # nothing else was written


def test_a_failing_connection_shows_the_doctors_steps_in_form_terms(
    browser: Browser, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    wrong = "not-the-secret-77aa"
    seed(studio, workspace, secret=wrong)
    with signed_in(browser, studio) as page:
        page.goto(f"{studio.url}/connectors/databricks")
        page.get_by_role("button", name="Test connection").click()
        result = page.locator("#connection-result")
        expect(result.locator(".badge")).to_have_text("Failed", timeout=30_000)
        steps = result.locator("ol.steps > li")
        expect(result.locator("li.step-failed")).to_contain_text("token request")
        expect(result.locator("li.step-passed").first).to_contain_text("base URL")
        skipped = result.locator("li.step-skipped")
        assert skipped.count() >= 1 and steps.count() > skipped.count()
        for text in skipped.all_inner_texts():
            assert "✓" not in text and "skipped" in text
        shown = result.inner_text()
        assert not CLI_WORDS.search(shown), shown
        assert result.locator("a[href^='#f-']").count() >= 1  # a fix links to its field
        assert wrong not in page.content()
        # Both client authentications were refused: one fix, the diagnosis's, and no advice to
        # switch to Auto; it names both causes and where to tell them apart.
        expect(result.locator(".outcome .hint")).to_have_count(0)
        assert "Auto" not in shown
        failed = result.locator("li.step-failed")
        expect(failed).to_contain_text("new OAuth secret")
        expect(failed).to_contain_text("not assigned to this workspace")
        expect(failed).to_contain_text("Workspaces > this workspace > Permissions")
    studio.assert_never_sent(wrong)
