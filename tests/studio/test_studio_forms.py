"""Point 1: every form works in a real Chromium, with JavaScript and without it (plain form posts
carry the Origin Chromium sends under the page's Referrer-Policy), and a refused post explains
itself, keeps what was typed and leads back."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from lakegate.project import load_project
from lakegate.secrets import SecretStore
from lakegate.workspace import LocalWorkspace

from .browsing import OUTPUT, new_shop_connector, seed, signed_in
from .conftest import RunningStudio


def remove_the_seed(page: Page, studio: RunningStudio, *, js: bool = True) -> None:
    """Remove the `list_warehouses` action, then the `databricks` connector, on their pages.

    Each Remove asks first: a dialog with JavaScript, the Studio's own page without it."""
    for kind, name in (("action", "list_warehouses"), ("connector", "databricks")):
        page.goto(f"{studio.url}/{kind}s/{name}")
        if js:
            page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name=f"Remove {kind}").click()
        if not js:
            expect(page.locator("h1")).to_have_text(f"Remove {kind} {name}?")
            assert name in getattr(load_project(studio.project), f"{kind}s")  # asked, not done
            page.get_by_role("button", name=f"Remove {kind}").click()
        page.wait_for_url("**/?saved=removed")


def test_every_form_works_with_javascript_disabled(
    browser: Browser, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    secret = workspace.credentials["client_secret"]
    with signed_in(browser, studio, js=False) as page:
        assert page.evaluate("1") == 1  # (evaluate still works; the page's scripts do not run)
        page.goto(f"{studio.url}/connectors/new")
        # Enter in the Databricks URL field fills the form, even without JavaScript.
        page.locator("#f-databricks_host").fill(workspace.host)
        page.locator("#f-databricks_host").press("Enter")
        expect(page.locator("#f-token_url")).to_have_value(f"{workspace.host}/oidc/v1/token")
        assert not studio.project.exists()
        page.locator("#f-name").fill("databricks")
        page.locator("#f-client_id").fill(workspace.credentials["client_id"])
        page.locator("#f-client_secret").fill(secret)
        page.get_by_role("button", name="Save connector").click()
        page.wait_for_url("**/connectors/databricks?saved=1")

        page.goto(f"{studio.url}/actions/new?connector=databricks")
        page.locator("#f-name").fill("list_warehouses")
        page.locator("#f-path").fill("/api/2.0/sql/warehouses")
        page.locator("#f-output").fill(OUTPUT)  # no tabs without JavaScript: all is shown
        page.locator("#test-button").click()
        expect(page.locator("#test-status")).to_have_text("200")
        expect(page.locator("#f-name")).to_have_value("list_warehouses")  # nothing lost
        page.get_by_role("button", name="Save action").click()
        page.wait_for_url("**/actions/list_warehouses?saved=1")

        page.goto(f"{studio.url}/copilot")
        page.locator("input[name=profile][value=operator]").check()
        page.get_by_role("button", name="Save policy").click()
        page.wait_for_url("**/copilot?saved=1")
        assert load_project(studio.project).copilot.profile == "operator"

        remove_the_seed(page, studio, js=False)
    project = load_project(studio.project)
    assert not project.actions and not project.connectors
    studio.assert_never_sent(secret)


def test_save_policy_and_remove_through_the_real_page(
    browser: Browser, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    seed(studio, workspace, action=True)
    with signed_in(browser, studio) as page:
        page.goto(f"{studio.url}/copilot")
        page.locator("#f-allow_writes").check()
        page.get_by_role("button", name="Save policy").click()
        page.wait_for_url("**/copilot?saved=1")
        expect(page.locator(".flash")).to_contain_text("Saved")
        assert load_project(studio.project).copilot.allow_writes is True

        remove_the_seed(page, studio)
        expect(page.locator(".flash")).to_contain_text("Removed")
    assert not load_project(studio.project).connectors


def test_a_refused_post_says_why_keeps_the_input_and_can_be_sent_again(
    browser: Browser, studio: RunningStudio
) -> None:
    with signed_in(browser, studio, js=False) as page:
        new_shop_connector(page, studio)
        page.locator("#f-auth_type").select_option("none")
        page.locator("#f-client_secret").fill("typed-secret-1b2c3d")
        # Signing in again (a new link) makes this page's token one of an earlier session.
        page.context.new_page().goto(studio.login_url())
        page.get_by_role("button", name="Save connector").click()
        expect(page.locator("h1")).to_have_text("Not saved: the request was refused")
        expect(page.locator(".refused")).to_contain_text("earlier session")
        kept = page.locator("dl.kept-values")
        expect(kept).to_contain_text("shop.example.com")
        expect(kept).to_contain_text("shop")
        expect(page.locator(".refused")).not_to_contain_text("typed-secret-1b2c3d")
        expect(page.get_by_role("link", name="Back to the page")).to_have_attribute(
            "href", "/connectors/new"
        )
        assert not studio.project.exists()
        page.get_by_role("button", name="Send again with this session's token").click()
        page.wait_for_url("**/connectors/shop?saved=1")
    assert load_project(studio.project).connectors["shop"].base_url == "https://shop.example.com"
    assert "typed-secret-1b2c3d" not in "".join(studio.html[-3:])


def test_a_post_without_a_session_keeps_what_was_typed(
    browser: Browser, studio: RunningStudio
) -> None:
    with signed_in(browser, studio, js=False) as page:
        new_shop_connector(page, studio, "https://shop.example.com/v2")
        page.context.clear_cookies()  # the session ends (a cleared cookie, or a restart)
        page.get_by_role("button", name="Save connector").click()
        expect(page.locator("h1")).to_have_text("Sign in with your link")
        expect(page.locator(".refused")).to_contain_text("lakegate studio")
        expect(page.locator("dl.kept-values")).to_contain_text("https://shop.example.com/v2")
    assert not studio.project.exists()
    assert not SecretStore(studio.project.parent / ".lakegate").names()
