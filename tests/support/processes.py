"""Waiting for a process to end without polling or sleeping."""

from __future__ import annotations

import os
import select


def process_ends(pid: int, timeout: float) -> bool:
    """Whether process `pid` (not necessarily our child) has ended or ends within `timeout`: waits
    on a pidfd, which becomes readable when the process exits."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)
