#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The soak's HTTP load (tests/soak.sh): a scraper and hostile clients.

  soak_load.py PORT SECONDS OUT.json

The scrapers, from 127.0.0.1, GET /metrics 20 times a second (a new
connection each; a tick every 50 ms, taken by whichever of 4 scraper
threads is free, so that one slow scrape does not lower the rate) and
record status and latency.  The hostile clients of tests/metrics.sh, from
127.0.0.2, in rounds until the end: 200 KB of headers, garbage bytes, a
client trickling its request one byte every 0.2 s for 15 s, and, once
that one is connected, 200 connections held idle for 10 s.  At the end
OUT.json says what each got.
"""
import json
import queue
import socket
import sys
import threading
import time

PORT, SECONDS, OUT = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
END = time.monotonic() + SECONDS
RATE = 20
res = {"scrapes": 0, "scrape_fail": 0, "missed": 0, "scrape_fail_examples": [], "lat_ms": [],
       "rounds": 0, "big": {}, "garbage": {}, "slow": {}, "idle_opened": []}
lock = threading.Lock()


def conn(src, timeout=30):
    return socket.create_connection(("127.0.0.1", PORT), timeout=timeout, source_address=(src, 0))


def read_all(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def count(d, key):
    with lock:
        d[key] = d.get(key, 0) + 1


ticks = queue.Queue()


def ticker():
    t_next = time.monotonic()
    while time.monotonic() < END:
        if ticks.qsize() < RATE:
            ticks.put(1)
        else:
            with lock:
                res["missed"] += 1
        t_next += 1.0 / RATE
        pause = t_next - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    for _ in range(4):
        ticks.put(None)


def scraper():
    while ticks.get() is not None:
        t0 = time.monotonic()
        try:
            s = conn("127.0.0.1", 10)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            resp = read_all(s)
            s.close()
            ok = resp.startswith(b"HTTP/1.1 200") and b"faultloop_build_info" in resp
            why = resp.split(b"\r\n")[0].decode(errors="replace")
        except Exception as e:
            ok, why = False, type(e).__name__
        dt = (time.monotonic() - t0) * 1000
        with lock:
            res["scrapes"] += 1
            res["lat_ms"].append(round(dt, 2))
            if not ok:
                res["scrape_fail"] += 1
                if len(res["scrape_fail_examples"]) < 10:
                    res["scrape_fail_examples"].append(why)


def one_shot(payload):
    try:
        s = conn("127.0.0.2")
        s.sendall(payload)
        st = s.recv(100).split(b"\r\n")[0].decode(errors="replace") or "closed"
        s.close()
    except Exception as e:
        st = "closed (%s)" % type(e).__name__
    return st


def slow(seconds, started):
    try:
        s = conn("127.0.0.2")
        t0 = time.monotonic()
        for i, b in enumerate(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: "):
            s.send(bytes([b]))
            if i == 2:
                started.set()
            time.sleep(0.2)
        while time.monotonic() - t0 < seconds and time.monotonic() < END:
            s.send(b"a")
            time.sleep(0.2)
        s.send(b"\r\nConnection: close\r\n\r\n")
        st = read_all(s).split(b"\r\n")[0].decode(errors="replace") or "closed"
    except Exception as e:
        st = "dropped (%s)" % type(e).__name__
    started.set()
    count(res["slow"], st)


def hostile():
    while time.monotonic() < END - 15:
        count(res["big"], one_shot(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n"))
        count(res["garbage"], one_shot(bytes(range(256)) * 40 + b"\r\n\r\n"))
        # the slow client holds its connection before the flood comes (the
        # per-address limit, 16, would refuse it otherwise), as in metrics.sh
        started = threading.Event()
        t = threading.Thread(target=slow, args=(15, started))
        t.start()
        started.wait(10)
        many = []
        for _ in range(200):
            try:
                many.append(conn("127.0.0.2", 5))
            except Exception:
                break
        with lock:
            res["idle_opened"].append(len(many))
        t_hold = time.monotonic() + 10
        while time.monotonic() < min(t_hold, END):
            time.sleep(0.2)
        for s in many:
            s.close()
        t.join()
        with lock:
            res["rounds"] += 1
        time.sleep(1)


threads = [threading.Thread(target=ticker), threading.Thread(target=hostile)] + \
    [threading.Thread(target=scraper) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
lat = sorted(res.pop("lat_ms"))
if lat:
    res["lat_ms"] = {"p50": lat[len(lat) // 2], "p99": lat[int(len(lat) * 0.99)], "max": lat[-1]}
res["idle_opened"] = sorted(set(res["idle_opened"]))
json.dump(res, open(OUT, "w"))
