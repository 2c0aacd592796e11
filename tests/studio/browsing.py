"""What the Studio's browser tests share: contexts with and without JavaScript, a seeded
project, waiting for htmx to settle, the overflow check and the axe-core audit."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, expect

from _support import databricks_connector, list_warehouses_action
from lakegate.project import Project, load_project
from lakegate.secrets import SecretStore
from lakegate.workspace import LocalWorkspace

from .conftest import RunningStudio

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
# htmx swaps new content in, then wires it up a moment later ("settling"): wait for the end.
BUSY = ".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added"
OUTPUT = "warehouses[].{id: id, name: name, state: state}"


@contextmanager
def signed_in(
    browser: Browser,
    studio: RunningStudio,
    *,
    js: bool = True,
    width: int = 1280,
    height: int = 800,
    **options: Any,
) -> Iterator[Page]:
    """A page signed in through a one-time link, in its own context (own cookies)."""
    context: BrowserContext = browser.new_context(
        java_script_enabled=js, viewport={"width": width, "height": height}, **options
    )
    try:
        page = context.new_page()
        page.goto(studio.login_url())
        yield page
    finally:
        context.close()


def settled(page: Page) -> None:
    expect(page.locator(BUSY)).to_have_count(0)


def seed(
    studio: RunningStudio, ws: LocalWorkspace, *, secret: str | None = None, action: bool = False
) -> None:
    """The seed's connector (and its list_warehouses action), written through the project API."""
    project = (
        Project.new(studio.project) if not studio.project.exists() else load_project(studio.project)
    )
    connector = databricks_connector(ws, "${secret:databricks_client_secret}")
    project.set_connector("databricks", connector)
    if action:
        project.set_action("list_warehouses", list_warehouses_action(output=OUTPUT))
    project.save()
    SecretStore(project.state_dir).set(
        "databricks_client_secret", secret or ws.credentials["client_secret"]
    )


def new_shop_connector(
    page: Page, studio: RunningStudio, base_url: str = "https://shop.example.com"
) -> None:
    """The new-connector page with a connector `shop` on `base_url` typed in, not saved."""
    page.goto(f"{studio.url}/connectors/new")
    page.locator("#f-name").fill("shop")
    page.locator("#f-base_url").fill(base_url)


def overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its viewport (0 = no horizontal scroll)."""
    return int(
        page.evaluate(
            "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - window.innerWidth"
        )
    )


def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.x A and AA findings on the page (contrast, labels, ARIA, ...)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE)  # through the debugger protocol: the page's CSP does not apply
    found = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
            return r.violations.map(v => v.id + ': ' + v.help + ' -> ' +
                v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
        }"""
    )
    return list(found)


def words_split_across_lines(page: Page) -> list[str]:
    """Words in `main` broken over two lines inside a run of letters, where the word (up to 24
    characters between spaces) would fit on a line: a long URL may break, `credentials` not."""
    return list(
        page.evaluate(
            r"""() => {
            const split = [];
            const walker = document.createTreeWalker(document.querySelector('main'),
                                                     NodeFilter.SHOW_TEXT);
            for (let node; (node = walker.nextNode());) {
              for (const word of node.textContent.matchAll(/\S{1,24}(?!\S)/g)) {
                if (word.index > 0 && /\S/.test(node.textContent[word.index - 1])) continue;
                for (const m of word[0].matchAll(/[A-Za-z]{2,}/g)) {
                  const range = document.createRange();
                  range.setStart(node, word.index + m.index);
                  range.setEnd(node, word.index + m.index + m[0].length);
                  const tops = new Set(Array.from(range.getClientRects())
                    .filter(r => r.width > 0).map(r => Math.round(r.top)));
                  if (tops.size > 1) split.push(word[0]);
                }
              }
            }
            return split;
        }"""
        )
    )


PIXELS_APART = """async ([a, b]) => {
  const load = src => new Promise(done => {
    const img = new Image(); img.onload = () => done(img);
    img.src = 'data:image/png;base64,' + src; });
  const [x, y] = [await load(a), await load(b)];
  const canvas = document.createElement('canvas');
  canvas.width = x.width; canvas.height = x.height;
  const g = canvas.getContext('2d');
  g.drawImage(x, 0, 0); const p = g.getImageData(0, 0, x.width, x.height).data;
  g.clearRect(0, 0, x.width, x.height);
  g.drawImage(y, 0, 0); const q = g.getImageData(0, 0, x.width, x.height).data;
  let n = 0;
  for (let k = 0; k < p.length; k += 4) if (Math.abs(p[k] - q[k]) > 48) n++;
  return n;
}"""


def pixels_apart(browser: Browser, a: bytes, b: bytes) -> int:
    """How many pixels of two same-size screenshots differ clearly (red channel by > 48 of 255)."""
    blank = browser.new_page()
    try:
        return int(blank.evaluate(PIXELS_APART, [base64.b64encode(a).decode(),
                                                 base64.b64encode(b).decode()]))  # fmt: skip
    finally:
        blank.close()
