"""`make openapi`: writes shared/openapi.json, the merged spec system_api serves, and the README's
table of error codes (from shared.error_codes).

Tests regenerate both and fail if the committed files are stale.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from fastapi import FastAPI

from localcloud.template import api_function_ids, handler_module, load_template
from shared.api_spec import SPEC_PATH, build_spec, render
from shared.error_codes import readme_with_table

README_PATH = Path(__file__).resolve().parents[1] / "README.md"


def apps() -> list[FastAPI]:
    """The FastAPI app of every function that serves API routes in template.yaml."""
    template = load_template()
    return [importlib.import_module(handler_module(template, fid)[0]).app for fid in api_function_ids(template)]


def main() -> None:
    SPEC_PATH.write_text(render(build_spec(apps())))
    print(f"wrote {SPEC_PATH}")
    README_PATH.write_text(readme_with_table(README_PATH.read_text()))
    print(f"wrote the error-code table in {README_PATH}")


if __name__ == "__main__":
    main()
