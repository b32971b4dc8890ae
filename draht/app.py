"""The Draht app, declared once.

This is what `sst.config.ts` said, as plain data: the tables, the functions and
the routes that serve them, and what each link allows. The Pulumi program and
`draht dev` are both built from `app`.
"""

from draht.model import App, Function, Link, Route, Table

sessions = Table("Sessions", hash_key="pk", range_key="sk")
clients = Table("Clients", hash_key="clientId")

health = Function(
    "Health",
    handler="health.handler",
    description="Liveness, and with ?deep=true a DescribeTable of each linked table",
    # It holds no page of items in memory; its timeout stays the stack's, which a deep check
    # against a store that never answers needs (about 9 s of retries).
    memory_mb=128,
    links=(
        Link(sessions, actions=("dynamodb:DescribeTable",)),
        Link(clients, actions=("dynamodb:DescribeTable",)),
    ),
)

list_sessions = Function(
    "ListSessions",
    handler="sessions.handler",
    description="One client's sessions, newest first, a page at a time",
    links=(Link(sessions, actions=("dynamodb:Query",)),),
)

list_clients = Function(
    "ListClients",
    handler="clients.handler",
    description="All clients, a page at a time",
    links=(Link(clients, actions=("dynamodb:Scan",)),),
)

app = App(
    name="draht",
    tables=(sessions, clients),
    routes=(
        Route("GET /health", health, auth="public"),
        Route("GET /sessions", list_sessions),
        Route("GET /clients", list_clients),
    ),
)
