"""Test-only apps for `draht dev`: functions that misbehave on purpose, never deployed.

Served with `draht dev --app local_apps.declarations:app --handlers tests/local_apps/handlers`.
"""

from draht.model import App, Function, Link, Route, Table

sessions = Table("Sessions", hash_key="pk", range_key="sk")
clients = Table("Clients", hash_key="clientId")

echo = Function("Echo", handler="echo.handler", links=(Link(sessions, ("dynamodb:Query",)),))
shape = Function("Shape", handler="shape.handler")
fails = Function("Fails", handler="fails.handler")
exits = Function("Exits", handler="exits.handler")
sleeps = Function("Sleeps", handler="sleeps.handler")
version = Function("Version", handler="version.handler")
body_size = Function("BodySize", handler="body_size.handler")
# Linked to Clients only: its calls on Sessions must be denied as on AWS.
cross_reader = Function(
    "CrossReader",
    handler="cross_reader.handler",
    links=(Link(clients, ("dynamodb:Scan",)),),
)

app = App(
    name="drahttest",
    tables=(sessions, clients),
    routes=(
        Route("GET /echo", echo, auth="public"),
        Route("POST /echo", echo),
        Route("GET /items/{itemId}", echo),
        Route("GET /files/{path+}", echo),
        Route("GET /shape", shape),
        Route("GET /fails", fails),
        Route("GET /exits", exits),
        Route("GET /sleeps", sleeps),
        Route("GET /version", version),
        Route("GET /cross", cross_reader),
        Route("POST /upload", body_size, auth="public"),
    ),
)
