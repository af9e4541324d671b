#!/usr/bin/env python3
"""fakepop3.py - a small scripted POP3 server (RFC 1939) on 127.0.0.1, for
the answers a real server gives only in rare states.

    fakepop3.py --port P --dir MAILDIR_CUR --log LOG [--busy 1,3,4] [--code IN-USE]
                [--busy-while PATH] [--capa-extra HEX]
                [--case retr-nodot | retr-nodot-hang]

Serves the files of --dir as the mailbox (UIDL = file name), plaintext only
(mailfs runs with tls_insecure_plaintext against it). The logins numbered in
--busy (counting from 1), and every login while the file --busy-while
exists, are answered "-ERR [CODE] ..." (IN-USE or LOGIN-DELAY). --capa-extra:
one more CAPA line, given in hex (any bytes but CR and LF). Every
command line received is appended to LOG. DELE is applied at QUIT.

--case retr-nodot: RETR of message 2 sends the message without the final
"." line and closes the connection; retr-nodot-hang sends it the same way
and then says nothing more.
"""

import argparse
import os
import socketserver

STATE = {"logins": 0}
CAPA = ("USER", "UIDL", "RESP-CODES", "TOP")


class Handler(socketserver.StreamRequestHandler):
    def send(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        a = self.server.args
        files = sorted(os.listdir(a.dir))
        deleted = set()
        self.send("+OK fake POP3 ready")
        while True:
            try:
                raw = self.rfile.readline()
            except OSError:     # the client reset the connection
                return
            if not raw:
                return
            with open(a.log, "ab") as f:
                f.write(raw)
            words = raw.decode("latin-1").strip().split()
            cmd = words[0].upper() if words else ""
            if cmd == "CAPA":
                self.send("+OK")
                for c in CAPA:
                    self.send(c)
                if a.capa_extra:
                    self.wfile.write(a.capa_extra + b"\r\n")
                self.send(".")
            elif cmd == "USER":
                self.send("+OK")
            elif cmd == "PASS":
                STATE["logins"] += 1
                if STATE["logins"] in a.busy or (a.busy_while and os.path.exists(a.busy_while)):
                    self.send("-ERR [%s] the mailbox is busy, try later" % a.code)
                    return
                self.send("+OK logged in")
            elif cmd == "STAT":
                live = [f for i, f in enumerate(files) if i + 1 not in deleted]
                size = sum(os.path.getsize(os.path.join(a.dir, f)) for f in live)
                self.send("+OK %d %d" % (len(files), size))
            elif cmd in ("UIDL", "LIST"):
                self.send("+OK")
                for i, f in enumerate(files):
                    if i + 1 in deleted:
                        continue
                    v = f if cmd == "UIDL" else str(os.path.getsize(os.path.join(a.dir, f)))
                    self.send("%d %s" % (i + 1, v.split(":")[0]))
                self.send(".")
            elif cmd == "RETR":
                n = int(words[1])
                with open(os.path.join(a.dir, files[n - 1]), "rb") as f:
                    data = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                self.send("+OK")
                for line in data.split(b"\r\n")[:-1] if data.endswith(b"\r\n") else data.split(b"\r\n"):
                    if line.startswith(b"."):
                        line = b"." + line
                    self.wfile.write(line + b"\r\n")
                if n == 2 and a.case.startswith("retr-nodot"):
                    try:
                        while a.case == "retr-nodot-hang" and self.rfile.readline():
                            pass
                    except OSError:
                        pass
                    return
                self.send(".")
            elif cmd == "DELE":
                deleted.add(int(words[1]))
                self.send("+OK")
            elif cmd == "NOOP":
                self.send("+OK")
            elif cmd == "QUIT":
                for n in deleted:
                    os.unlink(os.path.join(a.dir, files[n - 1]))
                self.send("+OK bye")
                return
            else:
                self.send("-ERR unknown command")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--busy", default="", type=lambda v: {int(x) for x in v.split(",") if x})
    ap.add_argument("--code", default="IN-USE")
    ap.add_argument("--busy-while", default="")
    ap.add_argument("--capa-extra", default=b"", type=bytes.fromhex)
    ap.add_argument("--case", default="", choices=["", "retr-nodot", "retr-nodot-hang"])
    a = ap.parse_args()
    socketserver.TCPServer.allow_reuse_address = True
    with socketserver.ThreadingTCPServer(("127.0.0.1", a.port), Handler) as srv:
        srv.args = a
        srv.serve_forever()


if __name__ == "__main__":
    main()
