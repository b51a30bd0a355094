"""``joinedup serve``: the HTTP API for partners under sharing agreements (docs/api.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from joinedup.access import resolve_principal
from joinedup.cli.common import DEFAULT_ESTATE, AsOption, EstateOption, JsonOption, emit, open_estate, say
from joinedup.errors import InputError


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: Annotated[str, typer.Option(help="The address to listen on (loopback unless you mean otherwise).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="The TCP port to listen on.", min=1, max=65535)] = 8000,
    estate: EstateOption = DEFAULT_ESTATE,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Serve the API (/v1) over the estate until stopped with Ctrl+C (admin, dpo; audited as api.serve).

    Partners get a token from POST /v1/token with their client id and secret (`joinedup client add`), then
    read what their agreement allows. Settings (token lifetime, quotas, page sizes) are in the estate's
    joinedup.toml under [api]. One process: quotas are counted in its memory. Put a TLS-terminating proxy in
    front of it for anything but loopback. The access log is off: request paths carry filter values.

    Example:
    joinedup serve
    joinedup serve --host 0.0.0.0 --port 8080 --estate /srv/council
    """
    import uvicorn

    from joinedup.api import ApiSettings, create_app
    from joinedup.api.serving import SERVE, allowed, listen

    target = open_estate(estate)
    who = resolve_principal(target, as_, SERVE)
    settings = ApiSettings.from_estate(target)
    root = target.root
    allowed(target, who)
    # Made before the start is recorded: an estate the API cannot run on (a key readable by others, say) stops
    # here, and the trail never says it served.
    app = create_app(root, settings=settings)
    try:
        # Allowed, listening and on the audit trail (api.serve) before a single request is answered; uvicorn
        # accepts on these sockets and closes them when it stops.
        sockets = listen(target, who, host, port)
    except BaseException:
        app.state.service.close()
        raise
    target.close()
    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_level="warning", server_header=False)
    server = uvicorn.Server(config)
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}/v1"
    emit(
        {"serving": url, "estate": str(root), "openapi": f"{url}/openapi.json"},
        json_,
        lambda r: say("Serving estate {} at {} (OpenAPI at {}); Ctrl+C stops", r["estate"], r["serving"], r["openapi"]),
    )
    server.run(sockets=sockets)
    if not server.started:
        raise InputError(f"the API on {host}:{port} did not start")
