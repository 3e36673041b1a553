"""Helpers shared by the pytest suites under tests/ (integration, reliability,
container) and usable from plain scripts.

tests/pytest.ini puts tests/ on sys.path (``pythonpath = .``), so suites write
``from support.apps import writer_cmd`` or ``from support import pid1``. A
script outside pytest runs with ``PYTHONPATH=tests`` (from the repository root).

Modules:

* ``waiting``: ``wait_for`` (poll until true, fail with a message) and
  ``free_port``. Standard library only.
* ``procs``: /proc helpers (``proc_stat``, ``alive``, ``children_of``,
  ``descendants``, ``cmdline``, ``exe_of``, ``zombie_children``,
  ``proc_status_ids``) and ``default_signals`` (a preexec_fn). Standard library only.
* ``apps``: the small test apps, run as ``python3 tests/support/apps.py ROLE ...``
  (writer, argv, env, marker, once, busy), the commands that start them and
  ``read_rows``. Standard library only, no other support module (it runs as a script).
* ``pid1``: lsinit as a plain init (``Lsinit``, ``run``, ``command``,
  ``clean_env``) and the signal recorder child (``Recorder``).
* ``lsinit_run``: ``LsinitRun`` (lsinit in Litestream mode, output in files,
  every descendant killed on close), ``wait_ready``, ``lsinit_env``, ``sanitizer_env``.
* ``litestream``: the Litestream under test (``LITESTREAM_TEST_VERSION``,
  ``LITESTREAM_V05``), ``write_litestream_config``, ``replica_progress``,
  ``litestream_restore``, LZ4 frames of 0.3 snapshots.
* ``servers``: the replica servers and pytest fixtures ``litestream_bin``,
  ``litestream03_bin``, ``fauxqs`` (S3), ``moto`` (S3 with conditional writes), ``sftp_server`` (registered by tests/conftest.py).
* ``replicas``: ``Replica`` and ``make_replica`` / ``request_replica`` (file, S3, SFTP).
* ``health``: the health endpoint over HTTP (``request``, ``healthz``,
  ``metrics``, raw exchanges), ``PingServer``, ``tmpfs``, ``verify_dirs``.
* ``reliability``: the reliability suites' helpers (soak app, acknowledged
  writes, restores, figures); also re-exports the run and replica helpers
  those suites reach through it (``from support import reliability as rel``).
* ``podman``: podman helpers of the container tests (``Container``, ``podman``, images).
"""
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The PATH of every process the tests start with a whole environment of their own.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
