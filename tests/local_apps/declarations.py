"""Test-only apps for `draht dev`: functions that misbehave on purpose, never deployed.

Served with `draht dev --app local_apps.declarations:app --handlers tests/local_apps/handlers`.
"""

from draht.model import App, Function, Link, Route, Table

sessions = Table("Sessions", hash_key="pk", range_key="sk")
clients = Table("Clients", hash_key="clientId")

echo = Function("Echo", handler="echo.handler", links=(Link(sessions, ("dynamodb:Query",)),))
shape = Function("Shape", handler="shape.handler")
# Its own memory and timeout, which override the stack config's.
tuned = Function("Tuned", handler="echo.handler", memory_mb=1024, timeout_s=5)
fails = Function("Fails", handler="fails.handler")
exits = Function("Exits", handler="exits.handler")
sleeps = Function("Sleeps", handler="sleeps.handler")
version = Function("Version", handler="version.handler")
imports_yaml = Function("ImportsYaml", handler="imports_yaml.handler")
runtime_info = Function("RuntimeInfo", handler="runtime_info.handler")
body_size = Function("BodySize", handler="body_size.handler")
# Linked to Clients only: its calls on Sessions must be denied as on AWS.
cross_reader = Function(
    "CrossReader",
    handler="cross_reader.handler",
    links=(Link(clients, ("dynamodb:Scan", "dynamodb:PartiQLSelect")),),
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
        Route("GET /tuned", tuned),
        Route("GET /fails", fails),
        Route("GET /exits", exits),
        Route("GET /sleeps", sleeps),
        Route("GET /version", version),
        Route("GET /cross", cross_reader),
        Route("GET /imports-yaml", imports_yaml),
        Route("GET /runtime", runtime_info),
        # With jwt auth, a token needs this scope; iam auth has no scopes.
        Route("GET /scoped", echo, scopes=("echo.read",)),
        Route("POST /upload", body_size, auth="public"),
    ),
)
