"""The in-process side of bench/http_latency.py, run on the interpreter `draht dev`'s workers use:

    python bench/in_process.py STORE_ENDPOINT REQUESTS PAUSE_S TARGETS_JSON

calls each route's handler directly, REQUESTS times, with the event `draht dev` would send
it and PAUSE_S seconds of sleep between calls, and prints each route's median in ms as JSON.
Run apart from the measuring process so that both sides of the overhead are timed on the
same Python."""

from __future__ import annotations

import json
import statistics
import sys
import time
from functools import partial

from handler_env import loaded_handlers

from bench.stats import timed
from draht.app import app
from draht.local.events import HttpRequest, build_event
from draht.local.store import local_table_name


def medians_ms(
    store_endpoint: str, targets: dict[str, str], requests: int, pause_s: float
) -> dict[str, float]:
    tables = {table.name: local_table_name(app.name, table) for table in app.tables}
    routes = {route.key: route for route in app.routes}
    medians = {}
    with loaded_handlers(store_endpoint, tables) as handlers:
        for key, target in targets.items():
            handler = getattr(handlers, routes[key].function.module).handler
            request = HttpRequest("GET", target, [("host", "127.0.0.1")])
            events = [build_event(request, routes[key], {}, "bench") for _ in range(requests)]
            samples = []
            for event in events:
                time.sleep(pause_s)
                samples.append(timed(partial(handler, event, None))[0])
            medians[key] = statistics.median(samples) * 1000
    return medians


if __name__ == "__main__":
    endpoint, requests, pause_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    print(json.dumps(medians_ms(endpoint, json.loads(sys.argv[4]), requests, pause_s)))
