#!/usr/bin/env python3
"""faultproxy.py - a TCP proxy on 127.0.0.1 that breaks the network on
command, between mailfs and the server.

    faultproxy.py --listen PORT --to PORT --control PATH

Control: write one command per line to the UNIX socket PATH (e.g. with
`faultctl PATH CMD`); it answers "ok". Commands:

    pass              forward everything (the start state)
    cut N [fin|rst] [on WORD]
                      after N more bytes from the server, close every
                      connection (FIN, or RST with SO_LINGER 0); new
                      connections are forwarded normally. With "on WORD":
                      count and close only a connection whose client has
                      sent WORD (e.g. APPEND) since the command
    stall             stop forwarding in both directions, keep sockets open
    drip MS           forward server bytes one at a time, MS ms apart
    rate N            forward server bytes at about N bytes a second (in
                      pieces of at most 4 KiB): a slow network
    refuse            close new connections at once
    dropall           close every open connection now (RST)
    count             answer the number of connections accepted so far
    bytes             answer the bytes the server has sent so far, over
                      all connections (what a test says crossed the wire)
    cuts              answer the number of cuts done so far (a cut that
                      never found its bytes is not counted)

Everything stays on loopback. Python 3 standard library only.
"""

import argparse
import os
import socket
import struct
import threading
import time

LOCK = threading.Lock()
STATE = {"mode": "pass", "cut_left": None, "cut_how": "fin", "cut_on": None,
         "drip_ms": 0, "rate": 0, "accepted": 0, "cuts": 0, "bytes": 0}
CONNS = []          # live (client, server) socket pairs
ARMED = set()       # id() of pairs whose client sent the "cut on" word
TAIL = {}           # id(pair) -> the client's last bytes, to match across reads


def close_pair(pair, rst=False):
    # close() alone does not end a socket that another thread is blocked in
    # recv() on (Linux keeps it open until that call returns): shut it down
    # first. SHUT_RD wakes the reader without sending a FIN, so that with
    # SO_LINGER 0 the close that follows sends an RST.
    for s in pair:
        try:
            if rst:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.shutdown(socket.SHUT_RD if rst else socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass


def drop_all(rst):
    with LOCK:
        pairs = list(CONNS)
        CONNS.clear()
    for p in pairs:
        close_pair(p, rst)


def pump(src, dst, pair, from_server):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if from_server:
                with LOCK:
                    STATE["bytes"] += len(data)
            while True:
                with LOCK:
                    mode = STATE["mode"]
                if mode != "stall":
                    break
                time.sleep(0.02)
            if not from_server and mode == "cut" and STATE["cut_on"]:
                word = STATE["cut_on"]
                seen = TAIL.get(id(pair), b"") + data
                if word in seen:
                    with LOCK:
                        ARMED.add(id(pair))
                TAIL[id(pair)] = seen[-len(word):]
            if from_server and mode == "cut" and (not STATE["cut_on"] or id(pair) in ARMED):
                with LOCK:
                    left = STATE["cut_left"]
                    take = min(left, len(data))
                    STATE["cut_left"] = left - take
                    how = STATE["cut_how"]
                if take:
                    dst.sendall(data[:take])
                if take < len(data) or STATE["cut_left"] == 0:
                    with LOCK:
                        STATE["mode"] = "pass"
                        STATE["cuts"] += 1
                        only = STATE["cut_on"] is not None
                        if only and pair in CONNS:
                            CONNS.remove(pair)
                    if only:
                        close_pair(pair, how == "rst")
                    else:
                        drop_all(how == "rst")
                    return
                continue
            if from_server and mode == "rate":
                for i in range(0, len(data), 4096):
                    piece = data[i:i + 4096]
                    dst.sendall(piece)
                    time.sleep(len(piece) / STATE["rate"])
                continue
            if from_server and mode == "drip":
                for i in range(len(data)):
                    dst.sendall(data[i:i + 1])
                    time.sleep(STATE["drip_ms"] / 1000.0)
                continue
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with LOCK:
            if pair in CONNS:
                CONNS.remove(pair)
        close_pair(pair)


def serve(listen_port, to_port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen_port))
    ls.listen(64)
    while True:
        c, _ = ls.accept()
        with LOCK:
            STATE["accepted"] += 1
            refuse = STATE["mode"] == "refuse"
        if refuse:
            close_pair((c,), rst=True)
            continue
        try:
            s = socket.create_connection(("127.0.0.1", to_port))
        except OSError:
            close_pair((c,), rst=True)
            continue
        pair = (c, s)
        with LOCK:
            CONNS.append(pair)
        threading.Thread(target=pump, args=(c, s, pair, False), daemon=True).start()
        threading.Thread(target=pump, args=(s, c, pair, True), daemon=True).start()


def control(path):
    if os.path.exists(path):
        os.unlink(path)
    cs = socket.socket(socket.AF_UNIX)
    cs.bind(path)
    cs.listen(4)
    while True:
        c, _ = cs.accept()
        words = c.makefile().readline().split()
        reply = "ok"
        with LOCK:
            if not words:
                reply = "empty"
            elif words[0] == "pass":
                STATE["mode"] = "pass"
            elif words[0] == "cut":
                STATE["mode"] = "cut"
                STATE["cut_left"] = int(words[1])
                STATE["cut_how"] = words[2] if len(words) > 2 else "fin"
                STATE["cut_on"] = None
                ARMED.clear()
                TAIL.clear()
                if len(words) > 4 and words[3] == "on":
                    STATE["cut_on"] = words[4].encode()
            elif words[0] == "stall":
                STATE["mode"] = "stall"
            elif words[0] == "drip":
                STATE["mode"] = "drip"
                STATE["drip_ms"] = float(words[1])
            elif words[0] == "rate":
                STATE["mode"] = "rate"
                STATE["rate"] = max(1.0, float(words[1]))
            elif words[0] == "refuse":
                STATE["mode"] = "refuse"
            elif words[0] == "count":
                reply = str(STATE["accepted"])
            elif words[0] == "cuts":
                reply = str(STATE["cuts"])
            elif words[0] == "bytes":
                reply = str(STATE["bytes"])
            elif words[0] != "dropall":
                reply = "unknown command"
        if words and words[0] == "dropall":
            drop_all(True)
        c.sendall((reply + "\n").encode())
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--to", type=int, required=True)
    ap.add_argument("--control", required=True)
    a = ap.parse_args()
    threading.Thread(target=control, args=(a.control,), daemon=True).start()
    serve(a.listen, a.to)


if __name__ == "__main__":
    main()
