"""Reports the Python it runs on and which of the modules named by ?try= it can import.

?require= names a module imported without a safety net: its failure is the handler's.
"""

import importlib
import os
import platform
from typing import Any

import boto3


def handler(event: dict[str, Any], context: Any) -> Any:
    query = event.get("queryStringParameters") or {}
    if "require" in query:
        importlib.import_module(query["require"])
    names = query.get("try", "")
    imports = {}
    for name in filter(None, names.split(",")):
        try:
            importlib.import_module(name)
        except ImportError as error:
            imports[name] = f"{type(error).__name__}: {error}"
        else:
            imports[name] = "ok"
    return {
        "python": platform.python_version(),
        "executionEnv": os.environ["AWS_EXECUTION_ENV"],
        "boto3": boto3.__version__,
        "imports": imports,
    }
