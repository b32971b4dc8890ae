"""The Draht app, declared once.

This is what `sst.config.ts` said, as plain data: the tables, the functions and
the routes that serve them, and what each link allows. The Pulumi program and
`draht dev` are both built from `app`.
"""

from draht.model import App, Function, Link, LocalIndex, Route, Table

# `bySessionId` finds one session by its id within its client's partition, with a consistent
# read: the sort key holds the start time before the id, so the table's own key cannot.
sessions = Table(
    "Sessions",
    hash_key="pk",
    range_key="sk",
    local_indexes=(LocalIndex("bySessionId", range_key="sessionId"),),
)
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

# The names predate the write routes; renaming a function would replace its Lambda, role and
# log group on every stack.
list_sessions = Function(
    "ListSessions",
    handler="sessions.handler",
    description="Sessions: one client's, newest first, a page at a time; and each one's"
    " create, read, merge patch and delete",
    links=(
        Link(
            sessions,
            actions=(
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            ),
            queried_indexes=("bySessionId",),
        ),
        # A create claims its session id on the client item, which must exist (no orphans).
        Link(clients, actions=("dynamodb:GetItem", "dynamodb:UpdateItem")),
    ),
)

list_clients = Function(
    "ListClients",
    handler="clients.handler",
    description="Clients: all of them, a page at a time; and each one's create, read,"
    " merge patch and delete",
    links=(
        Link(
            clients,
            actions=(
                "dynamodb:Scan",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            ),
        ),
        # Deleting a client first asks whether it still has a session: a Query with Limit 1.
        Link(sessions, actions=("dynamodb:Query",)),
    ),
)

app = App(
    name="draht",
    tables=(sessions, clients),
    routes=(
        Route("GET /health", health, auth="public"),
        Route("GET /sessions", list_sessions),
        Route("GET /clients", list_clients),
        Route("POST /clients", list_clients),
        Route("GET /clients/{clientId}", list_clients),
        Route("PATCH /clients/{clientId}", list_clients),
        Route("DELETE /clients/{clientId}", list_clients),
        Route("POST /sessions", list_sessions),
        Route("GET /sessions/{sessionId}", list_sessions),
        Route("PATCH /sessions/{sessionId}", list_sessions),
        Route("DELETE /sessions/{sessionId}", list_sessions),
    ),
)
