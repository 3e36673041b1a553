#!/usr/bin/env python3
"""A small web app on Python's standard library, writing to SQLite under lsinit.

    POST /items   body: any text or JSON (stored as text)  -> 201 {"id": N}
                  answered only after the row's COMMIT returned
    GET  /items   -> 200 {"count": N, "items": [{"id", "body", "created"}, ...]}
                  (?since=ID lists only ids > ID; ?limit=N caps the list, default 1000)
    GET  /count   -> 200 {"count": N}

The database is DB_PATH (default /data/app.db, the same file as LSINIT_DB) in WAL mode
with a busy timeout: Litestream reads the WAL while the app writes.

On SIGTERM or SIGINT the app stops accepting connections, finishes the requests in
flight, closes the database and exits with APP_TERM_EXIT (default 0; 143 for the
"killed by SIGTERM" convention — lsinit keeps the final sync either way and hands the
code on as the container's exit code).

On a read-only follower or standby (LSINIT_ROLE=follower|standby, set by the same environment lsinit
reads, docs/scaling.md) the app opens the database read-only and leaves its journal
mode and schema to the primary; a write is not attempted: POST /items answers
307 Temporary Redirect to PRIMARY_URL + the same path (a client or proxy repeats the
POST there), or 503 when PRIMARY_URL is unset.

Environment: HOST (default 0.0.0.0), PORT (8080), DB_PATH, APP_TERM_EXIT,
LSINIT_ROLE, PRIMARY_URL (e.g. http://app-primary:8080).
"""
import json
import os
import signal
import sqlite3
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = os.environ.get("HOST", "0.0.0.0")
PORT = int(os.environ.get("PORT", "8080"))
DB_PATH = os.environ.get("DB_PATH", "/data/app.db")
TERM_EXIT = int(os.environ.get("APP_TERM_EXIT", "0"))
MAX_BODY = 64 * 1024
# A standby reads like a follower until it takes over: lsinit then restarts the app with LSINIT_ROLE=primary.
FOLLOWER = os.environ.get("LSINIT_ROLE", "primary") in ("follower", "standby")
PRIMARY_URL = os.environ.get("PRIMARY_URL", "").rstrip("/")


def log(msg):
    sys.stderr.write(f"app: {msg}\n")
    sys.stderr.flush()


class Store:
    """One connection shared by the request threads, serialised by a lock:
    SQLite allows one writer at a time anyway, and the app stays simple."""

    def __init__(self, path):
        self.lock = threading.Lock()
        if FOLLOWER:
            # lsinit's copy: whole transactions only, published under SQLite's locks; never written here.
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                      check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout=5000")
            return
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA busy_timeout=5000")
        mode = self.db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise RuntimeError(f"{path}: journal_mode is {mode}, expected wal")
        # NORMAL is what Litestream recommends with WAL: a commit survives a crash of
        # the process (not of the machine) and the WAL is synced at checkpoints.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS items ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " body TEXT NOT NULL,"
            " created REAL NOT NULL)")

    def add(self, body):
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                cur = self.db.execute("INSERT INTO items (body, created) VALUES (?, ?)",
                                      (body, time.time()))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            return cur.lastrowid

    def count(self):
        with self.lock:
            return self.db.execute("SELECT count(*) FROM items").fetchone()[0]

    def list(self, since, limit):
        with self.lock:
            rows = self.db.execute(
                "SELECT id, body, created FROM items WHERE id > ? ORDER BY id LIMIT ?",
                (since, limit)).fetchall()
            count = self.db.execute("SELECT count(*) FROM items").fetchone()[0]
        return count, [{"id": r[0], "body": r[1], "created": r[2]} for r in rows]

    def close(self):
        with self.lock:
            self.db.close()


class Handler(BaseHTTPRequestHandler):
    server_version = "lsinit-example/1"
    # HTTP/1.0: one request per connection, so no idle keep-alive connection can hold
    # up the shutdown; the timeout bounds a slow client's request the same way.
    protocol_version = "HTTP/1.0"
    timeout = 10

    def log_message(self, fmt, *args):  # one line per request, on stderr
        log(f"{self.address_string()} {fmt % args}")

    def send_json(self, status, obj):
        data = json.dumps(obj).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        try:
            since = int(q.get("since", ["0"])[0])
            limit = max(0, min(int(q.get("limit", ["1000"])[0]), 100000))
        except ValueError:
            return self.send_json(400, {"error": "since and limit are integers"})
        if url.path == "/items":
            count, items = self.server.store.list(since, limit)
            return self.send_json(200, {"count": count, "items": items})
        if url.path == "/count":
            return self.send_json(200, {"count": self.server.store.count()})
        return self.send_json(404, {"error": "not found"})

    def do_POST(self):
        if urllib.parse.urlsplit(self.path).path != "/items":
            return self.send_json(404, {"error": "not found"})
        if FOLLOWER:
            # Writes belong to the primary: 307 keeps the method and body for the client's retry there.
            if not PRIMARY_URL:
                return self.send_json(503, {"error": "read-only follower and no PRIMARY_URL: send writes to the "
                                                     "primary"})
            self.send_response(307)
            self.send_header("Location", PRIMARY_URL + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return self.send_json(411, {"error": "Content-Length required"})
        if length < 0 or length > MAX_BODY:
            return self.send_json(413, {"error": f"body over {MAX_BODY} bytes"})
        body = self.rfile.read(length).decode("utf-8", "replace")
        try:
            item_id = self.server.store.add(body)
        except sqlite3.Error as e:
            log(f"insert failed: {e}")
            return self.send_json(503, {"error": "database unavailable"})
        # Only now, after COMMIT returned, is the write acknowledged.
        return self.send_json(201, {"id": item_id})


class Server(ThreadingHTTPServer):
    daemon_threads = False      # server_close() joins the request threads
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    store = Store(DB_PATH)
    server = Server((HOST, PORT), Handler)
    server.store = store
    server.stopping = threading.Event()

    def on_signal(signum, _frame):
        if server.stopping.is_set():
            return
        server.stopping.set()
        log(f"got {signal.Signals(signum).name}: no new connections, finishing requests")
        # shutdown() waits for serve_forever() to return: not from its own thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log(f"listening on {HOST}:{PORT}, database {DB_PATH} ({store.count()} items)")
    server.serve_forever(poll_interval=0.2)
    server.server_close()       # stop listening, join the request threads
    n = store.count()
    store.close()
    log(f"stopped with {n} items; exit {TERM_EXIT}")
    return TERM_EXIT


if __name__ == "__main__":
    sys.exit(main())
