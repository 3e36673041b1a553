"""Shared pytest fixtures for lsinit's behaviour tests.

The binary under test comes from $LSINIT_BIN (scripts/run-tests sets it to
the normal build and then to the ASan+UBSan build); servers (fauxqs S3,
openssh SFTP) and the real litestream binary come from servers.py.
"""
import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from servers import *  # noqa: E402,F401,F403  (fixtures: litestream_bin, fauxqs, sftp_server)

# Every lsinit a test starts listens on loopback only, on a port the kernel
# picks, and verifies only when a test asks for it.
os.environ.setdefault("LSINIT_HEALTH_ADDR", "127.0.0.1:0")
os.environ.setdefault("LSINIT_VERIFY_INTERVAL", "off")


@pytest.fixture(scope="session")
def lsinit_bin():
    path = pathlib.Path(os.environ.get("LSINIT_BIN", ROOT / "build" / "lsinit")).resolve()
    assert path.exists(), f"{path} missing: run make first"
    return str(path)


@pytest.fixture(scope="session")
def require_root():
    """The behaviour tests run lsinit as a real PID 1 (unshare --pid), mount tmpfs
    and start sshd: they need root, as in CI. Fail loudly rather than skip."""
    assert os.geteuid() == 0, "run the behaviour tests as root (tests/run does in CI)"
