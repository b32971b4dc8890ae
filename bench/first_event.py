"""One cold start, run by bench/cold_start.py as `python -S first_event.py ROOT MODULE ATTRIBUTE
FUNCTION EVENT_JSON [--diagnose]`: import the handler from ROOT, serve one event, print the status.

With --diagnose (an untimed run), it also writes to stderr how long the import and the first
event took and how much of each went to full (generation 2) garbage collections.
"""

import sys
import time

diagnose = "--diagnose" in sys.argv
full_collections: list[tuple[float, float]] = []
if diagnose:
    import gc

    def on_gc(phase: str, info: dict[str, int], begun: list[float] = [0.0]) -> None:  # noqa: B006  (a cell that outlives the call)
        if info["generation"] == 2 and phase == "start":
            begun[0] = time.perf_counter()
        elif info["generation"] == 2:
            full_collections.append((begun[0], time.perf_counter() - begun[0]))

    gc.callbacks.append(on_gc)
started = time.perf_counter()

root, module, attribute, function_name, event = sys.argv[1:6]
sys.path.insert(0, root)
handler = getattr(__import__(module, fromlist=[attribute]), attribute)
imported = time.perf_counter()


class Context:
    aws_request_id = "cold-start"
    function_name = sys.argv[4]
    memory_limit_in_mb = 256

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


# After the handler's import: every handler imports json itself, so this costs nothing more.
import json  # noqa: E402

response = handler(json.loads(event), Context())
served = time.perf_counter()
sys.stdout.write(str(response["statusCode"]))


def window(low: float, high: float) -> dict[str, float]:
    pauses = [pause for at, pause in full_collections if low <= at < high]
    return {
        "ms": round((high - low) * 1000, 3),
        "full_collections": len(pauses),
        "in_full_collections_ms": round(sum(pauses) * 1000, 3),
    }


if diagnose:
    phases = {"import": window(started, imported), "first_event": window(imported, served)}
    sys.stderr.write("DIAGNOSIS " + json.dumps(phases) + "\n")
