"""`lakegate studio`: serve the Studio web page on loopback and open it in a browser."""

from __future__ import annotations

import threading
import webbrowser

import typer

from lakegate.cli import _context, _output

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
) -> None:
    """Serve the Studio: create connectors and actions, press Test, and save.

    Listens on 127.0.0.1 only and prints a link with a one-time login token; the page then
    keeps a session cookie. Edits go to the project file (--project, default ./lakegate.yaml),
    secrets to the local secret store. Stop with Ctrl-C.
    """
    from lakegate.studio import StudioServer

    path = _context.project_path()
    server = StudioServer(path, port=port)
    link = server.login_url()
    exists = "" if path.exists() else " (new file: created on the first save)"
    _output.console.print(f"lakegate Studio for [bold]{path}[/]{exists}", markup=True)
    _output.console.print(f"Open: {link}", soft_wrap=True, markup=False)
    _output.console.print(
        "The link works once; press Ctrl-C to stop. Sessions live in memory: if the page says "
        "yours ended, run this command again for a new link (your edits stay on the page).",
        style="dim",
    )
    if not no_browser:
        threading.Timer(0.5, webbrowser.open, args=(link,)).start()
    server.serve_forever()
