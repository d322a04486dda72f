"""`make openapi`: writes shared/openapi.json, the merged spec system_api serves.

A test regenerates it and fails if the committed file is stale.
"""

from __future__ import annotations

import importlib

from fastapi import FastAPI

from localcloud.template import api_function_ids, handler_module, load_template
from shared.api_spec import SPEC_PATH, build_spec, render


def apps() -> list[FastAPI]:
    """The FastAPI app of every function that serves API routes in template.yaml."""
    template = load_template()
    return [importlib.import_module(handler_module(template, fid)[0]).app for fid in api_function_ids(template)]


def main() -> None:
    SPEC_PATH.write_text(render(build_spec(apps())))
    print(f"wrote {SPEC_PATH}")


if __name__ == "__main__":
    main()
