"""podman helpers for the container tests: run, inspect, exec, stop, logs,
with bounded timeouts and the container's log in every failure message."""
import http.client
import json
import os
import subprocess
import time
import uuid

from .litestream import LITESTREAM_TEST_VERSION

# The Litestream baked into the images under test (tests/run runs the suite once
# per version); each version has its own tag, built by
# `scripts/container-build --litestream V --tag test-litestream-V`.
TAG = f"test-litestream-{LITESTREAM_TEST_VERSION}"
IMAGE = os.environ.get("LSINIT_IMAGE", f"localhost/lsinit:{TAG}")
PYTHON_IMAGE = f"localhost/lsinit-example-python:{TAG}"
WORKER_IMAGE = f"localhost/lsinit-example-worker:{TAG}"
IMAGES = (IMAGE, PYTHON_IMAGE, WORKER_IMAGE)
NONROOT = 65532

# crun fails here ("cgroups in hybrid mode not supported") and the default
# ulimits cannot be raised in this environment.
PODMAN_RUN = ["podman", "run", "--runtime", "runc",
              "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000"]

# What a careful production run looks like: read-only root, a tmpfs /tmp (the
# verification's restored copy goes there), no capabilities, no setuid.
HARDENED = ["--read-only", "--tmpfs", "/tmp:rw,size=256m,mode=1777",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]


def podman(*args, timeout=60, check=False):
    """Run `podman ARGS`; returns the CompletedProcess (text)."""
    try:
        out = subprocess.run(["podman", *args], capture_output=True, text=True,
                             timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"`podman {' '.join(args)}` did not finish within {timeout}s; "
                             f"stderr so far: {e.stderr!r}") from None
    if check and out.returncode != 0:
        raise AssertionError(f"`podman {' '.join(args)}` exited {out.returncode}:\n"
                             f"{out.stdout}\n{out.stderr}")
    return out


def http_request(method, host, port, path, body=None, timeout=10):
    """(status, parsed JSON or text) of one request; raises OSError when the
    server cannot be reached."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        headers = {"Content-Type": "text/plain"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read().decode("utf-8", "replace")
        if resp.getheader("Content-Type", "").startswith("application/json"):
            data = json.loads(data)
        return resp.status, data
    finally:
        conn.close()


class Container:
    """One `podman run -d` container, removed by the ``containers`` fixture."""

    def __init__(self, registry, image, env=None, volumes=None, args=(), options=(),
                 network_host=True):
        self.name = f"lsinit-test-{uuid.uuid4().hex[:10]}"
        registry.append(self.name)
        self.image = image
        self.env = dict(env or {})
        self.volumes = dict(volumes or {})
        self.args = list(args)
        self.options = list(options)
        self.network_host = network_host

    def run(self, timeout=60):
        cmd = PODMAN_RUN[1:] + ["-d", "--name", self.name]
        if self.network_host:
            cmd += ["--network", "host"]
        for k, v in self.env.items():
            cmd += ["-e", f"{k}={v}"]
        for host_path, target in self.volumes.items():
            cmd += ["-v", f"{host_path}:{target}"]
        cmd += self.options + [self.image] + self.args
        out = podman(*cmd, timeout=timeout)
        assert out.returncode == 0, f"podman run failed ({out.returncode}):\n{out.stderr}"
        return self

    # -- state -----------------------------------------------------------

    def inspect(self, fmt):
        return podman("inspect", "--format", fmt, self.name, check=True).stdout.strip()

    def running(self):
        return self.inspect("{{.State.Running}}") == "true"

    def exit_code(self):
        return int(self.inspect("{{.State.ExitCode}}"))

    def host_pid(self):
        return int(self.inspect("{{.State.Pid}}"))

    def logs(self, tail=None):
        """stdout + stderr of the container (the last ``tail`` lines of each)."""
        out = podman("logs", "--tail", str(-1 if tail is None else tail), self.name, timeout=30)
        return out.stdout + out.stderr

    def diag(self):
        """A block for failure messages: state and the log's tail."""
        try:
            state = self.inspect("status={{.State.Status}} exit={{.State.ExitCode}}")
        except AssertionError as e:
            state = str(e)
        return f"\n--- container {self.name} ({self.image}) {state}; log:\n{self.logs(tail=60)}"

    # -- actions ---------------------------------------------------------

    def exec(self, *cmd, timeout=60):
        return podman("exec", self.name, *cmd, timeout=timeout)

    def stop(self, t=20):
        """`podman stop -t T`: SIGTERM to PID 1, SIGKILL after T seconds.
        Returns the seconds it took."""
        t0 = time.monotonic()
        out = podman("stop", "-t", str(t), self.name, timeout=t + 60)
        assert out.returncode == 0, f"podman stop failed: {out.stderr}{self.diag()}"
        return time.monotonic() - t0

    def wait_exit(self, timeout=60):
        out = podman("wait", self.name, timeout=timeout)
        assert out.returncode == 0, f"podman wait failed: {out.stderr}{self.diag()}"
        return int(out.stdout.strip().splitlines()[-1])

    def wait_until(self, predicate, timeout, what, interval=0.1):
        """Poll ``predicate``; fail with the container's log when it exits
        or the time is up."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = predicate()
            except OSError:
                value = None
            if value:
                return value
            if not self.running():
                raise AssertionError(f"container exited while waiting for {what}{self.diag()}")
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}{self.diag()}")
            time.sleep(interval)
