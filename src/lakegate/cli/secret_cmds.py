"""`lakegate secret set|list|remove`: the local secret store (.lakegate/secrets.json, 0600)."""

from __future__ import annotations

import typer

from lakegate.cli._project import print_json, read_secret, say, secret_store, usage

secret_app = typer.Typer(
    help="The local secret store (.lakegate/secrets.json, mode 0600). Values are write-only.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the `secret` group to the lakegate app."""
    app.add_typer(secret_app, name="secret")


@secret_app.command("set")
def secret_set(name: str = typer.Argument(..., help="The secret's name.")) -> None:
    """Store a secret from stdin or a hidden prompt; reference it as ${secret:NAME}.

    Example:

        printf %s "$DATABRICKS_CLIENT_SECRET" | lakegate secret set databricks_client_secret
    """
    store = secret_store()
    value = read_secret(f"value for {name}")
    store.set(name, value)
    say(f"[green]✓[/] Stored {name}; reference it as ${{secret:{name}}}")


@secret_app.command("list")
def secret_list(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """List the names in the local secret store (never the values).

    Example:

        lakegate secret list
    """
    names = secret_store().names()
    if as_json:
        print_json(names)
    elif not names:
        say("No secrets stored. Add one with `lakegate secret set NAME`.")
    else:
        for name in names:
            say(name)


@secret_app.command("remove")
def secret_remove(name: str = typer.Argument(..., help="The secret's name.")) -> None:
    """Remove a secret from the local secret store.

    Example:

        lakegate secret remove databricks_client_secret
    """
    if not secret_store().remove(name):
        raise usage(
            f"There is no secret {name!r} in the local store.", "See `lakegate secret list`"
        )
    say(f"[green]✓[/] Removed {name}")
