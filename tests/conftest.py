"""Fixtures shared by every pytest suite under tests/ (integration, reliability,
container): the binary under test and the fixtures of support/servers.py, and
the environment defaults every lsinit a test starts inherits.

tests/ itself is on sys.path through tests/pytest.ini (``pythonpath = .``), so
helpers come from the support package: ``from support.apps import writer_cmd``.
"""
import os
import pathlib

import pytest

from support import ROOT
from support.servers import fauxqs, litestream03_bin, litestream_bin, moto, sftp_server  # noqa: F401  (fixtures)

# Every lsinit a test starts listens on loopback only, on a port the kernel
# picks, and verifies only when a test asks for it. (The container tests give
# their containers an environment of their own.)
os.environ.setdefault("LSINIT_HEALTH_ADDR", "127.0.0.1:0")
os.environ.setdefault("LSINIT_VERIFY_INTERVAL", "off")


@pytest.fixture(scope="session")
def lsinit_bin():
    """The binary under test: $LSINIT_BIN (tests/run sets it to the normal, the
    ASan+UBSan and the static build in turn), build/lsinit by default."""
    path = pathlib.Path(os.environ.get("LSINIT_BIN", ROOT / "build" / "lsinit")).resolve()
    assert path.exists(), f"{path} missing: run make first"
    return str(path)


@pytest.fixture(scope="session")
def require_root():
    """The behaviour tests run lsinit as a real PID 1 (unshare --pid), mount tmpfs
    and start sshd: they need root, as in CI. Fail loudly rather than skip."""
    assert os.geteuid() == 0, "run the behaviour tests as root (tests/run does in CI)"
