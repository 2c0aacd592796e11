"""What an admin following the seed guide trips on in the Studio: Test before Save, the account
console pasted as a workspace, a base URL with a page's path, Enter in the request line, a
Remove that asks, an empty warehouse list explained."""

from __future__ import annotations

from playwright.sync_api import Browser, Dialog, Page, expect

from lakegate.project import load_project
from lakegate.secrets import SecretStore
from lakegate.workspace import LocalWorkspace

from .browsing import seed, settled, signed_in
from .conftest import RunningStudio


def fill_new_connector(page: Page, url: str, ws: LocalWorkspace, secret: str) -> None:
    page.goto(f"{url}/connectors/new")
    page.locator("#f-databricks_host").fill(ws.host)
    page.locator("#f-databricks_host").press("Enter")
    settled(page)
    page.locator("#f-name").fill("databricks")
    page.locator("#f-client_id").fill(ws.credentials["client_id"])
    page.locator("#f-client_secret").fill(secret)


def test_a_new_connector_is_tested_before_anything_is_saved(
    browser: Browser, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    for js in (False, True):
        with signed_in(browser, studio, js=js) as page:
            fill_new_connector(page, studio.url, workspace, "not-the-secret-0123456789")
            page.locator("#test-draft").click()
            settled(page)
            result = page.locator("#draft-result")
            expect(result.locator(".badge")).to_have_text("Failed", timeout=20_000)
            expect(result).not_to_contain_text("studio_connection_probe")
            expect(result).to_contain_text("no token")
            assert not studio.project.exists()  # a failed Test wrote nothing
            assert SecretStore(studio.project.parent / ".lakegate").names() == []

            page.locator("#f-client_secret").fill(workspace.credentials["client_secret"])
            page.locator("#test-draft").click()
            settled(page)
            expect(result.locator(".badge")).to_have_text("Connected", timeout=20_000)
            assert not studio.project.exists()  # a passing Test writes nothing either
            page.get_by_role("button", name="Save connector").click()
            page.wait_for_url("**/connectors/databricks?saved=1")
            assert "databricks" in load_project(studio.project).connectors
        studio.project.unlink()
        for leftover in (studio.project.parent / ".lakegate").glob("secrets*"):
            leftover.unlink()


def test_the_account_console_and_a_page_path_are_refused_with_the_fix(
    browser: Browser, studio: RunningStudio
) -> None:
    with signed_in(browser, studio) as page:
        page.goto(f"{studio.url}/connectors/new")
        page.locator("#f-databricks_host").fill("https://accounts.cloud.databricks.com/")
        page.locator("#f-databricks_host").press("Enter")
        settled(page)
        expect(page.locator("#error-databricks_host")).to_contain_text("account console")
        page.locator("#f-name").fill("dbx")
        page.locator("#f-base_url").fill("https://dbc-1234.cloud.databricks.com/sql/editor")
        page.get_by_role("button", name="Save connector").click()
        settled(page)
        expect(page.locator("#error-base_url")).to_contain_text("without a path")
    assert not studio.project.exists()


def test_enter_in_the_request_line_sends_test_not_save(
    browser: Browser, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    seed(studio, workspace, action=True)
    before = studio.project.read_text()
    with signed_in(browser, studio) as page:
        page.goto(f"{studio.url}/actions/list_warehouses")
        page.locator("#f-path").press("Enter")
        settled(page)
        expect(page.locator("#test-panel")).to_contain_text("200", timeout=20_000)
    assert studio.project.read_text() == before  # Enter sent Test, it did not save


def test_remove_connector_asks_first_and_takes_its_secret_along(
    browser: Browser, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    seed(studio, workspace)
    store = SecretStore(studio.project.parent / ".lakegate")
    assert store.names() == ["databricks_client_secret"]
    asked: list[str] = []

    def answer(accept: bool):
        def respond(dialog: Dialog) -> None:
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return respond

    with signed_in(browser, studio) as page:
        page.goto(f"{studio.url}/connectors/databricks")
        page.once("dialog", answer(False))
        page.get_by_role("button", name="Remove connector").click()
        page.wait_for_timeout(300)  # a declined confirm sends nothing: give it a moment to
        assert "databricks" in load_project(studio.project).connectors
        page.once("dialog", answer(True))
        page.get_by_role("button", name="Remove connector").click()
        page.wait_for_url("**/?saved=removed")
    assert len(asked) == 2 and "its stored secrets" in asked[0]
    assert "databricks" not in load_project(studio.project).connectors
    assert store.names() == []


def test_remove_without_javascript_asks_on_a_page_of_its_own(
    browser: Browser, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    seed(studio, workspace)
    store = SecretStore(studio.project.parent / ".lakegate")
    with signed_in(browser, studio, js=False) as page:
        page.goto(f"{studio.url}/connectors/databricks")
        page.get_by_role("button", name="Remove connector").click()
        expect(page.locator("h1")).to_have_text("Remove connector databricks?")
        expect(page.locator("main")).to_contain_text("databricks_client_secret")
        assert "databricks" in load_project(studio.project).connectors  # asked, nothing done
        assert store.names() == ["databricks_client_secret"]
        page.get_by_role("link", name="Keep it").click()
        page.wait_for_url("**/connectors/databricks")
        page.get_by_role("button", name="Remove connector").click()
        page.get_by_role("button", name="Remove connector").click()  # the question's own button
        page.wait_for_url("**/?saved=removed")
    assert "databricks" not in load_project(studio.project).connectors
    assert store.names() == []


def test_an_empty_scope_for_databricks_is_refused_and_examples_do_not_look_typed(
    browser: Browser, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    with signed_in(browser, studio) as page:
        fill_new_connector(page, studio.url, workspace, workspace.credentials["client_secret"])
        page.locator("#f-scope").fill("")
        page.get_by_role("button", name="Save connector").click()
        settled(page)
        expect(page.locator("#error-scope")).to_contain_text("sql all-apis")
        assert (
            page.locator("#f-scope").get_attribute("placeholder", timeout=5_000).startswith("e.g. ")
        )
        style = page.evaluate(
            "() => getComputedStyle(document.querySelector('#f-scope'), '::placeholder').fontStyle"
        )
        assert style == "italic"
    assert not studio.project.exists()
