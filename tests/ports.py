"""TCP ports for the server processes the tests start, never the same one twice at once.

Several pytest workers (pytest-xdist), and other test runs on the same machine, pick ports at the same time.
A port is taken from below the kernel's ephemeral range, so no outgoing connection can grab it before the
server binds it, and it is claimed in a registry shared by every process under a file lock, so no other
worker is handed it before its server is up (once bound, the kernel itself keeps it from others).
"""

from __future__ import annotations

import fcntl
import json
import random
import socket
import tempfile
import time
from pathlib import Path

REGISTRY = Path(tempfile.gettempdir()) / "rekisteri-test-ports.json"
CLAIM_SECONDS = 600.0  # far longer than a server takes to start and bind its port
SPAN = 8000


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port on 127.0.0.1 that is free now and that no other test process is handed for a while."""
    high = _ephemeral_low()
    low = max(1024, high - SPAN)
    with REGISTRY.with_suffix(".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            claims: dict[str, float] = json.loads(REGISTRY.read_text())
        except (OSError, ValueError):
            claims = {}
        now = time.time()
        claims = {port: at for port, at in claims.items() if now - at < CLAIM_SECONDS}
        for port in random.sample(range(low, high), k=high - low):
            if str(port) not in claims and _bindable(port):
                claims[str(port)] = now
                REGISTRY.write_text(json.dumps(claims))
                return port
    raise AssertionError(f"no free port in {low}-{high - 1}")
