"""Import parts of a package without running its `__init__`.

Some packages import everything they own from `__init__`: ccxt imports ~100 exchanges (~0.5 s),
powertools' idempotency imports its boto3-based DynamoDB store (boto3 and s3transfer, about a
quarter of an API function's cold start). Registering the package as a bare namespace first lets
us import just the modules we use; their own imports of sibling modules work as usual.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types

_lock = threading.Lock()


def import_without_package_init(package: str, module: str) -> types.ModuleType:
    """`package.module`, with `package` registered bare if nothing imported it yet."""
    with _lock:
        if package not in sys.modules:
            spec = importlib.util.find_spec(package)
            if spec is None or spec.submodule_search_locations is None:
                raise ImportError(f"{package} is not installed")
            bare = types.ModuleType(package)
            bare.__path__ = list(spec.submodule_search_locations)
            bare.__spec__ = spec
            bare.__file__ = spec.origin
            sys.modules[package] = bare
        return importlib.import_module(f"{package}.{module}")
