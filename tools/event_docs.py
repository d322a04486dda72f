"""`make event-docs`: writes docs/events.md, the consumer documentation of every event type,
from shared/events/catalog.py (the one source of truth). A test fails if the file is stale."""

from __future__ import annotations

from pathlib import Path

DOCS_PATH = Path(__file__).resolve().parent.parent / "docs" / "events.md"


def render() -> str:
    from shared.events.catalog import consumer_docs

    return consumer_docs().rstrip("\n") + "\n"


def main() -> None:
    DOCS_PATH.write_text(render())
    print(f"wrote {DOCS_PATH}")


if __name__ == "__main__":
    main()
