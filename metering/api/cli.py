"""`plantcarbon metering serve` and API key management (`keys-create`, `keys-list`, `keys-revoke`)."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from metering.api.settings import ApiSettings
from metering.state.store import ROLES, Conflict, NotFound, Store

# The audit log's actor for changes made on the command line (whoever runs it holds the host).
CLI_ACTOR = "cli"

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)


def _settings() -> ApiSettings:
    """The settings, or a clean exit naming each bad setting (never echoing values: they may be secrets)."""
    try:
        return ApiSettings()
    except ValidationError as exc:
        for e in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(x) for x in e["loc"]) or "settings"
            typer.echo(f"{where}: {e['msg']}", err=True)
        raise typer.Exit(2) from None


def _store() -> Store:
    return Store(_settings().resolved_state_url())


@app.command()
def serve(
    host: str = typer.Option(None, help="Listen address (default PLANTCARBON_API_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default PLANTCARBON_API_PORT, 8000)."),
    no_alerts: bool = typer.Option(False, "--no-alerts", help="Serve the API without the alert engine."),
) -> None:
    """Run the metering API, the control-room page (/) and the alert engine."""
    import uvicorn

    from metering.api.app import create_app

    s = _settings()
    app_ = create_app(s, start_alerts=not no_alerts and s.alerts_enabled)
    uvicorn.run(app_, host=host or s.api_host, port=port or s.api_port, log_level="info")


@app.command("keys-create")
def keys_create(
    name: str = typer.Argument(..., help="A name for the key, e.g. 'shift-a-operator'."),
    role: str = typer.Option("viewer", help="viewer | operator | energy_manager | admin"),
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    if role not in ROLES:
        typer.echo(f"role must be one of {', '.join(ROLES)}, got {role!r}", err=True)
        raise typer.Exit(2)
    try:
        token = _store().create_key(name, role, actor=CLI_ACTOR)
    except Conflict as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(token)


@app.command("keys-list")
def keys_list() -> None:
    """List API keys: name, role, prefix, created, revoked (never the key)."""
    for k in _store().list_keys():
        revoked = f"revoked {k['revoked_at']:%Y-%m-%d %H:%M}" if k["revoked_at"] else "active"
        typer.echo(f"{k['name']:<24} {k['role']:<15} {k['prefix']}…  {k['created_at']:%Y-%m-%d %H:%M}  {revoked}")


@app.command("keys-revoke")
def keys_revoke(name: str = typer.Argument(..., help="The key's name.")) -> None:
    """Revoke an API key."""
    try:
        _store().revoke_key(name, actor=CLI_ACTOR)
    except (NotFound, Conflict) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"revoked {name}")
