#!/usr/bin/env python3
"""droplistener.py - a port on 127.0.0.1 that accepts TCP connections and
then fails the TLS handshake on purpose, as a server going down (or a load
balancer with no backend) does (t_offline_tls.sh).

    droplistener.py --port P --log LOG --mode MODE [--cert PEM --key KEY]

MODE:
    close   close each connection at once (FIN)
    reset   reset each connection at once (RST: SO_LINGER 0)
    hello   read the client's first bytes (its ClientHello), then close
    tls     play a real TLS server with --cert/--key (which the client is
            expected to refuse), then close

One line per connection is appended to LOG ("accepted", and for hello the
first byte read, 22 for a TLS handshake record; for tls how the handshake
ended). Python 3 standard library only.
"""

import argparse
import socket
import ssl
import struct


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--mode", required=True, choices=["close", "reset", "hello", "tls"])
    ap.add_argument("--cert")
    ap.add_argument("--key")
    a = ap.parse_args()

    ctx = None
    if a.mode == "tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.port))
    srv.listen(16)
    while True:
        conn, _ = srv.accept()
        note = "accepted"
        try:
            if a.mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif a.mode == "hello":
                conn.settimeout(10)
                first = conn.recv(1)
                note += " first byte %d" % (first[0] if first else -1)
            elif a.mode == "tls":
                conn.settimeout(10)
                try:
                    t = ctx.wrap_socket(conn, server_side=True)
                    note += " handshake completed"
                    t.close()
                except (ssl.SSLError, OSError) as e:
                    note += " handshake failed: %s" % e
        except OSError as e:
            note += " (%s)" % e
        with open(a.log, "a") as f:
            f.write(note + "\n")
        conn.close()


if __name__ == "__main__":
    main()
