"""Reliability suites: soak, outages, faults, hostile input (docs/reliability.md).

Every suite has a SHORT version (the default, part of tests/run) and a LONG
version selected with LSINIT_SOAK=1 (scripts/soak). Tests marked ``soak`` run
only in the long version.

Fixtures (lsinit_bin, require_root, litestream_bin, fauxqs, sftp_server)
come from tests/conftest.py, helpers from tests/support (support.reliability).
Figures each test records go to LSINIT_FIGURES (default
build/reliability/figures-{short,soak}.json) and are printed at the end.
"""
import json
import os
import pathlib
import shutil
import time

import pytest

from support import ROOT
from support.reliability import LITESTREAM_TEST_VERSION, SOAK

_FIGURES = {}
_STARTED = time.time()


def pytest_configure(config):
    config.addinivalue_line("markers", "soak: long version only (LSINIT_SOAK=1, scripts/soak)")


def pytest_collection_modifyitems(config, items):
    if SOAK:
        return
    skip = pytest.mark.skip(reason="long version only: LSINIT_SOAK=1 (scripts/soak)")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def lsinit(lsinit_bin, tmp_path_factory):
    """A private copy of the binary under test: `make` rebuilding build/lsinit
    during a 20-minute soak must not swap the file under running lsinits."""
    copy = tmp_path_factory.mktemp("bin") / "lsinit"
    shutil.copy2(lsinit_bin, copy)
    return str(copy)


@pytest.fixture
def figures(request):
    """figures(**values): record this test's figures (merged per test)."""
    name = request.node.name

    def record(**values):
        _FIGURES.setdefault(name, {}).update(values)
        print(f"FIGURES {name}: {json.dumps(values, sort_keys=True)}")
    return record


def pytest_sessionfinish(session, exitstatus):
    if not _FIGURES:
        return
    default = ROOT / "build" / "reliability" / f"figures-{'soak' if SOAK else 'short'}-{LITESTREAM_TEST_VERSION}.json"
    out = pathlib.Path(os.environ.get("LSINIT_FIGURES", default))
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"soak": SOAK, "litestream": LITESTREAM_TEST_VERSION, "lsinit_bin": os.environ.get("LSINIT_BIN", str(ROOT / "build" / "lsinit")),
           "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(_STARTED)),
           "duration_s": round(time.time() - _STARTED, 1), "tests": _FIGURES}
    old = {}
    if out.exists():
        try:
            old = json.loads(out.read_text()).get("tests", {})
        except ValueError:
            old = {}
    old.update(_FIGURES)
    doc["tests"] = old
    out.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _FIGURES:
        return
    terminalreporter.section("reliability figures")
    for name, values in sorted(_FIGURES.items()):
        terminalreporter.write_line(f"{name}: {json.dumps(values, sort_keys=True)}")
