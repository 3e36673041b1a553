"""Reliability suites: soak, outages, faults, hostile input (docs/reliability.md).

Every suite has a SHORT version (the default, part of tests/run) and a LONG
version selected with LSINIT_SOAK=1 (scripts/soak). Tests marked ``soak`` run
only in the long version.

This conftest re-uses tests/integration: it puts that folder on sys.path (for
apps.py, servers.py, health_helpers.py, pid1.py) and re-exports its fixtures
(litestream_bin, fauxqs, sftp_server from servers.py; lsinit_bin from its
conftest). Figures each test records go to LSINIT_FIGURES (default
build/reliability/figures-{short,soak}.json) and are printed at the end.
"""
import importlib.util
import json
import os
import pathlib
import shutil
import sys
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
INTEGRATION = ROOT / "tests" / "integration"
for p in (str(INTEGRATION), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from servers import fauxqs, litestream_bin, sftp_server  # noqa: E402,F401  (re-exported fixtures)

# tests/integration/conftest.py under its own name (two modules called
# "conftest" cannot both be imported by name): its lsinit_bin fixture and the
# environment defaults it sets (loopback health port, verification off).
_spec = importlib.util.spec_from_file_location("lsinit_integration_conftest", INTEGRATION / "conftest.py")
_integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_integration)
lsinit_bin = _integration.lsinit_bin
require_root = _integration.require_root  # these tests need root too: they fail loudly without it

from rel import LITESTREAM_TEST_VERSION, SOAK  # noqa: E402
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
