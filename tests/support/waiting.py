"""Polling and ports: standard library only (no pytest), so scripts outside
the suites can use it too."""
import socket
import time


def wait_for(predicate, timeout=10.0, what="condition", interval=0.02):
    """Polls ``predicate`` until it returns something truthy and returns that
    value; after ``timeout`` seconds fails with an AssertionError naming
    ``what`` (a string, or a callable returning one, evaluated only on failure)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            msg = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:g}s waiting for {msg}")
        time.sleep(interval)


def free_port():
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
