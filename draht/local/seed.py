"""A realistic sample data set for the local store, in the tables' documented layout.

Clients: `clientId`, `name`, `createdAt` (ISO 8601 UTC) and a few other attributes.
Sessions: `pk` = `CLIENT#<clientId>`, `sk` = `SESSION#<startedAt>#<sessionId>`, with
`clientId`, `sessionId`, `startedAt` and what a session records besides.

The set is the same on every run apart from its dates, which end today: seeding
replaces the sample clients' sessions, so running it again never piles them up
and never touches data of other clients.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from draht.layout import client_item, partition_key, session_item, wire
from draht.local.store import batch_write, local_table_name
from draht.model import App, DeclarationError, Table

SESSION_COUNT = 320
HISTORY_DAYS = 45
_NAMESPACE = uuid.UUID("5f1b7c3e-2d4a-4b8e-9c61-0d7e3a9f4b12")

# Name, plan, country and relative activity: a few busy clients, a few quiet ones.
_CLIENTS = (
    ("Hafenmeister Logistik GmbH", "enterprise", "DE", 9),
    ("Nordlicht Energie AG", "business", "DE", 6),
    ("Alpenblick Hotels", "business", "AT", 4),
    ("Café Kranich", "starter", "CH", 2),
    ("Brightwater Analytics Ltd", "enterprise", "GB", 7),
    ("Studio Verde", "starter", "IT", 1),
)
_DEVICES = ("desktop", "desktop", "desktop", "mobile", "mobile", "tablet")
_AGENTS = {
    "desktop": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "mobile": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15",
    "tablet": "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15",
}


def iso(moment: datetime) -> str:
    """ISO 8601 UTC to the second with `Z`: one fixed width, so strings sort as times do."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SampleData:
    clients: list[dict[str, Any]]
    sessions: list[dict[str, Any]]


def sample_data(now: datetime, session_count: int = SESSION_COUNT) -> SampleData:
    rng = random.Random(20261126)
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    clients = []
    for index, (name, plan, country, _) in enumerate(_CLIENTS):
        clients.append(
            client_item(
                str(uuid.uuid5(_NAMESPACE, name)),
                name,
                iso(today - timedelta(days=HISTORY_DAYS + 30 * (index + 1))),
                plan=plan,
                country=country,
            )
        )
    weights = [activity for *_, activity in _CLIENTS]
    sessions = []
    for client in rng.choices(clients, weights=weights, k=session_count):
        # Business hours are busier: the hour is drawn around mid-day.
        day = rng.randrange(HISTORY_DAYS)
        hour = min(23, max(0, int(rng.gauss(13, 4))))
        started = today - timedelta(days=day) + timedelta(hours=hour, seconds=rng.randrange(3600))
        if started > now:
            started -= timedelta(days=1)
        duration = int(rng.lognormvariate(6, 1))
        device = rng.choice(_DEVICES)
        session_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        started_at = iso(started)
        sessions.append(
            session_item(
                client["clientId"],
                started_at,
                session_id,
                endedAt=iso(started + timedelta(seconds=duration)),
                durationSeconds=duration,
                device=device,
                userAgent=_AGENTS[device],
                pageViews=1 + int(rng.expovariate(1 / 6)),
            )
        )
    return SampleData(clients, sessions)


def _table(app: App, name: str) -> Table:
    for table in app.tables:
        if table.name == name:
            return table
    raise DeclarationError(f"app {app.name} declares no {name} table to seed")


def seed(client: Any, app: App, now: datetime | None = None) -> SampleData:
    """Replace the sample clients and their sessions in the app's tables; returns what it wrote."""
    data = sample_data(now or datetime.now(UTC))
    clients_table = local_table_name(app.name, _table(app, "Clients"))
    sessions_table = local_table_name(app.name, _table(app, "Sessions"))
    stale: list[dict[str, Any]] = []
    for sample_client in data.clients:
        paginator = client.get_paginator("query")
        for page in paginator.paginate(
            TableName=sessions_table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": partition_key(sample_client["clientId"])}},
            ProjectionExpression="pk, sk",
        ):
            stale += [{"DeleteRequest": {"Key": key}} for key in page["Items"]]
    batch_write(client, sessions_table, stale)
    batch_write(
        client,
        clients_table,
        [{"PutRequest": {"Item": wire(item)}} for item in data.clients],
    )
    batch_write(
        client,
        sessions_table,
        [{"PutRequest": {"Item": wire(item)}} for item in data.sessions],
    )
    return data
