"""One cold start, run by bench/cold_start.py as `python -S first_event.py ROOT MODULE.ATTRIBUTE
FUNCTION EVENT_JSON`: import the handler from ROOT, serve one event, print the status."""

import sys

root, handler_path, _, event = sys.argv[1:5]
sys.path.insert(0, root)
module, attribute = handler_path.split(".")
handler = getattr(__import__(module, fromlist=[attribute]), attribute)


class Context:
    aws_request_id = "cold-start"
    function_name = sys.argv[3]
    memory_limit_in_mb = 256

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


# After the handler's import: every handler imports json itself, so this costs nothing more.
import json  # noqa: E402

sys.stdout.write(str(handler(json.loads(event), Context())["statusCode"]))
