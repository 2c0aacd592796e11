"""`lakegate studio`: serve the Studio web page on loopback and open it in a browser."""

from __future__ import annotations

import signal
import sys
import threading
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from lakegate.cli import _context, _output
from lakegate.cli._project import secret_store, state_dir
from lakegate.errors import ConfigError

if TYPE_CHECKING:
    from lakegate.secrets import SecretStore

DEFAULT_PORT = 8787


def register(app: typer.Typer) -> None:
    app.command()(studio)


def studio(
    port: int = typer.Option(
        DEFAULT_PORT, "--port", help="Port on 127.0.0.1 (0 picks a free one).", show_default=True
    ),
    no_browser: bool = typer.Option(
        False, "--no-browser", help="Print the link but do not open a browser."
    ),
    link: bool = typer.Option(
        False, "--link", help="A new login link from the Studio already running (another browser)."
    ),
) -> None:
    """Serve the Studio: create connectors and actions, press Test, and save.

    Listens on 127.0.0.1 only and prints a link with a one-time login token; the page then
    keeps a session cookie. Edits go to the project file (--project, default ./lakegate.yaml),
    secrets to the local secret store. Stop with Ctrl-C.
    """
    from lakegate.studio import StudioServer

    path = _context.project_path()
    if link:
        fresh = _new_link(path)
        _output.console.print(f"Open: {fresh}", soft_wrap=True, markup=False)
        _output.console.print("The link works once.", style="dim")
        if not no_browser:
            webbrowser.open(fresh)
        return
    server = StudioServer(path, port=port)
    link = server.login_url()
    exists = "" if path.exists() else " (new file: created on the first save)"
    _output.console.print(f"lakegate Studio for [bold]{path}[/]{exists}", markup=True)
    _output.console.print(f"Open: {link}", soft_wrap=True, markup=False)
    _output.console.print(
        "The link works once: for another browser, `lakegate studio --link` prints a new one. "
        "Press Ctrl-C to stop. Sessions live in memory: if the page says yours ended, use a new "
        "link (your edits stay on the page).",
        style="dim",
    )
    if not no_browser:
        threading.Timer(0.5, webbrowser.open, args=(link,)).start()
    store, where = _link_files()
    # Stopped by SIGTERM too (a service manager, `kill`), the files below are cleaned up: uvicorn
    # re-raises the signal it caught once it has shut down, and this handler turns it into exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    store.set(_LINK_KEY, server.studio.gate.link_key)
    where.write_text(server.url + "\n", encoding="utf-8")
    try:
        server.serve_forever()
    finally:
        where.unlink(missing_ok=True)
        store.remove(_LINK_KEY)


_LINK_KEY = "lakegate_studio_link_key"


def _link_files() -> tuple[SecretStore, Path]:
    """Where a running Studio leaves its address and (in the secret store) its link key."""
    return secret_store(), state_dir() / "studio.url"


def _new_link(path: Path) -> str:
    """A new one-time login link from the Studio running for `path`."""
    import httpx

    store, where = _link_files()
    key = store.get(_LINK_KEY)
    url = where.read_text(encoding="utf-8").strip() if where.exists() else ""
    none = ConfigError(
        f"No Studio is running for {path}.",
        code="config.usage",
        hint="Start one with `lakegate studio` (in this folder, or with the same --project).",
    )
    if not key or not url:
        raise none
    try:
        answer = httpx.post(
            f"{url}/login/new", headers={"Authorization": f"Bearer {key}"}, timeout=5
        )
    except httpx.HTTPError:
        raise none from None
    if answer.status_code != 200:
        raise none
    return str(answer.json()["url"])
