"""Fixtures for the container tests (tests/container/test_containers.py).

Images come from scripts/container-build (podman, a local stand-in for
debian:bookworm-slim, a local Litestream mirror); the S3 replica is the fauxqs
fixture of tests/support/servers.py (registered by tests/conftest.py); containers
run with podman + runc.

Environment:
  LSINIT_TEST_LITESTREAM=0.3.13|0.5.17  the Litestream baked into the images (default 0.3.13);
                                   images are tagged test-litestream-<version>, and the
                                   host's litestream for restores is the same version
  LSINIT_CONTAINER_BUILD=missing   only build when an image is missing (default: always run
                                   scripts/container-build, which is a cached no-op when
                                   nothing changed, so the images never lag the source)
  LSINIT_CONTAINER_BUILD_TIMEOUT   seconds for scripts/container-build (default 3600)
"""
import os
import shutil
import subprocess
import uuid

import pytest

from support import ROOT
from support.litestream import LITESTREAM_TEST_VERSION as TEST_LITESTREAM
from support.podman import IMAGE, IMAGES, NONROOT, PODMAN_RUN, PYTHON_IMAGE, TAG, WORKER_IMAGE, podman


@pytest.fixture(scope="session")
def podman_ok():
    """podman and runc can run a container here; a clear failure otherwise
    (never a skip)."""
    if shutil.which("podman") is None or shutil.which("runc") is None:
        # scripts/container-build installs them; run it so the message is about
        # the real problem if it cannot.
        _container_build()
    info = podman("info", "--format", "{{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}}",
                  timeout=60)
    if info.returncode != 0:
        pytest.fail(f"podman cannot run here: `podman info` exited {info.returncode}:\n"
                    f"{info.stderr}", pytrace=False)
    return info.stdout.strip()


def _container_build():
    timeout = int(os.environ.get("LSINIT_CONTAINER_BUILD_TIMEOUT", "3600"))
    log = ROOT / ".deps" / "container" / "container-build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        try:
            proc = subprocess.run([str(ROOT / "scripts" / "container-build"), "--litestream", TEST_LITESTREAM,
                                   "--tag", TAG], cwd=ROOT,
                                  stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"scripts/container-build did not finish within {timeout}s "
                        f"(LSINIT_CONTAINER_BUILD_TIMEOUT); log: {log}", pytrace=False)
    if proc.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(True)[-60:])
        pytest.fail(f"scripts/container-build exited {proc.returncode}; last lines of {log}:\n"
                    f"{tail}", pytrace=False)


@pytest.fixture(scope="session")
def images(podman_ok):
    """The three images, built (or refreshed from the cache) by
    scripts/container-build."""
    missing = [i for i in IMAGES if podman("image", "exists", i).returncode != 0]
    if missing or os.environ.get("LSINIT_CONTAINER_BUILD", "always") != "missing":
        _container_build()
    missing = [i for i in IMAGES if podman("image", "exists", i).returncode != 0]
    if missing:
        pytest.fail(f"scripts/container-build succeeded but {missing} do not exist", pytrace=False)
    smoke = podman(*PODMAN_RUN[1:], "--rm", IMAGE, "--version", timeout=120)
    if smoke.returncode != 0:
        pytest.fail(f"podman cannot run a container here (`podman run --runtime runc ... {IMAGE} "
                    f"--version` exited {smoke.returncode}):\n{smoke.stdout}{smoke.stderr}",
                    pytrace=False)
    return {"lsinit": IMAGE, "python": PYTHON_IMAGE, "worker": WORKER_IMAGE}


@pytest.fixture
def data_dir(tmp_path):
    """An empty host folder for /data, owned by the image's non-root user."""
    def make(name="data"):
        d = tmp_path / f"{name}-{uuid.uuid4().hex[:6]}"
        d.mkdir()
        os.chown(d, NONROOT, NONROOT)
        return d
    return make


@pytest.fixture
def containers():
    """Names of the containers a test started; all removed at teardown."""
    names = []
    yield names
    for name in names:
        podman("rm", "-f", "-t", "0", name, timeout=60)
