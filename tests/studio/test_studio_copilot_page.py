"""Point 6: the Copilot page: the connect snippet of each client (the very builder behind
`serve --print-config`, env block included), the pinned warehouse picked from the workspace's
list, the profile and writes explained, and readable times."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from playwright.sync_api import Browser, expect

from lakegate.copilot.audit import AuditLog, call_record
from lakegate.copilot.clientconfig import client_snippet, env_names
from lakegate.project import BearerAuth, Connector, load_project
from lakegate.studio.copilot import serve_command
from lakegate.workspace import LocalWorkspace

from .browsing import seed, signed_in
from .conftest import RunningStudio


def test_connect_snippets_match_print_config_with_their_env_block(
    browser: Browser, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    seed(studio, workspace, action=True)
    project = load_project(studio.project)
    shop = Connector(
        name="shop", base_url="https://shop.example.com", auth=BearerAuth(token="${env:SHOP_TOKEN}")
    )
    project.set_connector("shop", shop)
    project.save()
    with signed_in(browser, studio) as page:
        page.goto(f"{studio.url}/copilot")
        for client, title in (("claude-desktop", "Claude Desktop"), ("claude-code", "Claude Code"),
                              ("vscode", "VS Code"), ("cursor", "Cursor")):  # fmt: skip
            expected = client_snippet(
                client,
                command=serve_command(studio.server.studio),
                env=env_names(load_project(studio.project)),
            )
            expect(page.get_by_role("heading", name=title)).to_be_visible()
            shown = json.loads(page.locator(f"#snippet-{client}").inner_text())
            assert shown == expected.config
            cli = subprocess.run(
                [sys.executable, "-m", "lakegate", "--project", str(studio.project), "serve",
                 "--print-config", client],
                capture_output=True, text=True, timeout=120, check=True,
            )  # fmt: skip
            assert json.loads(cli.stdout) == shown  # what `lakegate serve --print-config` prints
            assert "SHOP_TOKEN" in json.dumps(shown)  # the env block the command needs
            assert str(studio.project) in json.dumps(shown)
        # Claude Desktop does not expand variables: the page says what to put in their place.
        desktop = page.locator(".snippet", has=page.locator("#snippet-claude-desktop"))
        expect(desktop).to_contain_text("Replace each <the value of ...> in `env` (SHOP_TOKEN)")


def test_the_pinned_warehouse_is_chosen_from_the_workspace_list(
    browser: Browser, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    seed(studio, workspace, action=True)
    log = AuditLog.for_project(load_project(studio.project))
    log.write(call_record(client={"name": "claude"}, tool="list_warehouses", arguments={},
                          outcome="ok", elapsed_ms=12.5, status=200))  # fmt: skip
    with signed_in(browser, studio) as page:
        page.goto(f"{studio.url}/copilot")
        choice = page.locator("select#f-warehouse_id")
        expect(choice.locator("option", has_text="Starter Warehouse")).to_have_count(1)
        starter = choice.locator("option", has_text="Starter Warehouse").get_attribute("value")
        assert starter
        # The profile and the writes switch are explained where they are set.
        expect(page.locator("#help-writes")).to_contain_text("or when this box is ticked")
        expect(page.locator("fieldset.choices")).to_contain_text("read and write tools")
        audit = page.locator("table.audit tbody tr").first
        stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$")
        expect(audit.locator("time")).to_have_text(stamp)
        expect(audit).to_contain_text(re.compile(r"just now|min ago"))
        choice.select_option(starter)
        page.get_by_role("button", name="Save policy").click()
        page.wait_for_url("**/copilot?saved=1")
        expect(page.locator("select#f-warehouse_id")).to_have_value(starter)
    assert load_project(studio.project).copilot.pinned.warehouse_id == starter
