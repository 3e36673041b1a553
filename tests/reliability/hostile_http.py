"""Hostile load on lsinit's health endpoint, as its own process (so the
measuring test keeps its GIL): ``python3 hostile_http.py PORT SECONDS OUT``.

Loopback only, bounded in time and in connections (at most ~340 open at
once). Threads:

* idle: holds up to 300 idle connections, reopening them as lsinit's 5 s
  deadline closes them;
* slowloris: 20 connections that send one header byte every 100 ms;
* oversized: requests with a 10 KiB header (431), as fast as answered;
* pipelined: 8 requests in one write, then reads whatever comes back;
* half-closed: a request, then shutdown(SHUT_WR), then the answer;
* garbage: 512 random bytes per connection.

Writes a JSON summary (connections made, refused/reset, answers) to OUT.
"""
import json
import os
import random
import socket
import sys
import threading
import time

HOST = "127.0.0.1"


def main(port, seconds, out):
    stop_at = time.monotonic() + seconds
    counts = {"connections": 0, "errors": 0, "answers": 0}
    lock = threading.Lock()

    def count(key, n=1):
        with lock:
            counts[key] += n

    def connect(timeout=2.0):
        s = socket.create_connection((HOST, port), timeout=timeout)
        count("connections")
        return s

    def idle():
        socks = []
        while time.monotonic() < stop_at:
            socks = [s for s in socks if s.fileno() >= 0]
            while len(socks) < 300 and time.monotonic() < stop_at:
                try:
                    socks.append(connect())
                except OSError:
                    count("errors")
                    break
            # drop the ones lsinit closed (readable with EOF)
            for s in list(socks):
                try:
                    s.setblocking(False)
                    if s.recv(1) == b"":
                        s.close()
                        socks.remove(s)
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    socks.remove(s)
            time.sleep(0.2)
        for s in socks:
            s.close()

    def slowloris():
        while time.monotonic() < stop_at:
            try:
                s = connect()
                s.sendall(b"GET /livez HTTP/1.1\r\nX-Slow: ")
                while time.monotonic() < stop_at:
                    s.sendall(b"a")
                    time.sleep(0.1)
            except OSError:
                count("errors")
                time.sleep(0.05)
            finally:
                try:
                    s.close()
                except (OSError, UnboundLocalError):
                    pass

    def exchange(payload, half_close=False):
        try:
            with connect() as s:
                s.sendall(payload)
                if half_close:
                    s.shutdown(socket.SHUT_WR)
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                if data.startswith(b"HTTP/1."):
                    count("answers")
        except OSError:
            count("errors")

    def loop(make):
        rnd = random.Random()
        while time.monotonic() < stop_at:
            exchange(*make(rnd))

    big = b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10240 + b"\r\n\r\n"
    pipelined = b"".join(b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % p for p in
                         (b"livez", b"readyz", b"healthz", b"metrics") * 2)
    threads = [threading.Thread(target=idle, daemon=True)]
    threads += [threading.Thread(target=slowloris, daemon=True) for _ in range(20)]
    threads += [threading.Thread(target=loop, args=(m,), daemon=True) for m in (
        lambda r: (big,),
        lambda r: (pipelined,),
        lambda r: (b"GET /healthz HTTP/1.0\r\n\r\n", True),
        lambda r: (r.randbytes(512),),
    )]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 10)
    with open(out, "w") as f:
        json.dump(counts, f)
    os._exit(0)


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]), sys.argv[3])
