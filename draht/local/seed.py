"""A realistic sample data set for the local store, in the tables' documented layout.

Clients: `clientId`, `name`, `createdAt` (ISO 8601 UTC), what an invoice needs (the
fields of the API's client schema) and a few other attributes.
Sessions: `pk` = `CLIENT#<clientId>`, `sk` = `SESSION#<startedAt>#<sessionId>`, with
`clientId`, `sessionId`, `startedAt`, the fields of the API's session schema (title,
model, tokens, exact cost, billable...) and what a session records besides.

The set is the same on every run apart from its dates, which end today: seeding
replaces the sample clients' sessions, so running it again never piles them up
and never touches data of other clients.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
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
# What an invoice to each country's client says: currency, tax id prefix, city, dialling code.
_BILLING = {
    "DE": ("EUR", "DE", "20457 Hamburg", "+49 40"),
    "AT": ("EUR", "ATU", "6020 Innsbruck", "+43 512"),
    "CH": ("CHF", "CHE", "8001 Zürich", "+41 44"),
    "GB": ("GBP", "GB", "Bristol BS1 4DJ", "+44 117"),
    "IT": ("EUR", "IT", "20121 Milano", "+39 02"),
}
_CONTACTS = ("Jana Petersen", "Lukas Berger", "Sophie Graf", "Marco Rossi", "Emily Clarke")
# Model, and its price per million input and output tokens in USD.
_MODELS = (
    ("claude-sonnet-4-5", Decimal(3), Decimal(15)),
    ("claude-opus-4-1", Decimal(15), Decimal(75)),
    ("claude-haiku-4-5", Decimal(1), Decimal(5)),
)
_TASKS = (
    "Fix the login redirect loop",
    "Add CSV export to the reports page",
    "Migrate the billing job to the new queue",
    "Review and tidy the API error handling",
    "Write tests for the booking calendar",
    "Speed up the search index rebuild",
    "Upgrade the web framework and fix deprecations",
    "Draft the data retention clean-up script",
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
        currency, tax_prefix, city, dialling = _BILLING[country]
        slug = "".join(
            char for char in name.lower().split()[0] if char.isascii() and char.isalnum()
        )
        clients.append(
            client_item(
                str(uuid.uuid5(_NAMESPACE, name)),
                name,
                iso(today - timedelta(days=HISTORY_DAYS + 30 * (index + 1))),
                plan=plan,
                country=country,
                contactName=_CONTACTS[index % len(_CONTACTS)],
                email=f"billing@{slug}.example",
                phone=f"{dialling} {rng.randrange(1000000, 9999999)}",
                address=f"{name}\nHauptstrasse {index + 1}\n{city}",
                vatId=f"{tax_prefix}{rng.randrange(10**8, 10**9)}",
                currency=currency,
                hourlyRate=f"{80 + 5 * rng.randrange(9)}.00",
                paymentTermsDays=rng.choice((14, 30)),
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
        model, input_price, output_price = rng.choice(_MODELS)
        input_tokens = int(rng.lognormvariate(11, 0.8))
        output_tokens = int(input_tokens * rng.uniform(0.05, 0.3))
        cost = (input_tokens * input_price + output_tokens * output_price) / 1_000_000
        task = rng.choice(_TASKS)
        sessions.append(
            session_item(
                client["clientId"],
                started_at,
                session_id,
                endedAt=iso(started + timedelta(seconds=duration)),
                title=task,
                model=model,
                inputTokens=input_tokens,
                outputTokens=output_tokens,
                cost=str(cost.quantize(Decimal("0.000001"))),
                currency="USD",
                billable=rng.random() < 0.85,
                summary=f"{task}: done, with tests; see the pull request.",
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
