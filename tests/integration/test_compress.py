"""COMPRESS=DEFLATE (RFC 4978): after "OK DEFLATE active" both directions
are raw deflate streams; a 1 MB message is appended and fetched through
Python's zlib, and the session goes on normally (also under TLS)."""

import re
import socket
import zlib

import pytest

import messages
import omtest
from omtest import status_of

pytestmark = pytest.mark.skipif(omtest.server_class() is not omtest.Objmaild,
                                reason="objmail-specific expectations")


class DeflateImap:
    """Minimal IMAP client over a raw deflate stream."""

    def __init__(self, sock, leftover=b""):
        self.sock = sock
        self.comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.decomp = zlib.decompressobj(-15)
        self.buf = self.decomp.decompress(leftover) if leftover else b""
        self.n = 0
        self.wire_in = 0

    def send(self, data):
        self.sock.sendall(self.comp.compress(data) + self.comp.flush(zlib.Z_SYNC_FLUSH))

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("closed")
        self.wire_in += len(data)
        self.buf += self.decomp.decompress(data)

    def read_line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self):
        out = b""
        while True:
            line = self.read_line()
            out += line
            m = re.search(rb"\{(\d+)\}$", line)
            if not m:
                return out
            out += b"\r\n" + self.read_exact(int(m.group(1)))

    def cmd(self, text, literal=None):
        self.n += 1
        tag = b"Z%03d" % self.n
        if literal is not None:
            self.send(tag + b" " + text + b" {%d}\r\n" % len(literal))
            cont = self.response()
            assert cont.startswith(b"+"), cont
            self.send(literal + b"\r\n")
        else:
            self.send(tag + b" " + text + b"\r\n")
        untagged = []
        while True:
            r = self.response()
            if r.startswith(tag + b" "):
                return untagged, r
            untagged.append(r)


def start_compress(r):
    tag = r.tag()
    r.send(tag + " COMPRESS DEFLATE\r\n")
    line = r.read_line()
    assert line == tag.encode() + b" OK DEFLATE active", line
    return DeflateImap(r.sock, r.buf)


def test_fetch_1mb_through_deflate(server, user):
    r = server.raw(login=user)
    u, _ = r.ok("CAPABILITY")
    assert b"COMPRESS=DEFLATE" in u[0]
    z = start_compress(r)
    body = "".join("line %06d of a big message, compressible text\n" % i for i in range(22000))
    msg = messages.simple("big", body=body)
    assert len(msg) > 1024 * 1024
    _, t = z.cmd(b"APPEND INBOX", literal=msg)
    assert b" OK " in t, t
    _, t = z.cmd(b"SELECT INBOX")
    assert b" OK " in t
    u, t = z.cmd(b"FETCH 1 BODY.PEEK[]")
    assert b" OK " in t
    data = u[0].split(b"}\r\n", 1)[1]
    assert data[:len(msg)] == msg
    assert z.wire_in < len(msg) // 4   # it really was compressed
    # second COMPRESS: refused, session still fine
    _, t = z.cmd(b"COMPRESS DEFLATE")
    assert status_of(t) == "NO" and b"COMPRESSIONACTIVE" in t
    u, _ = z.cmd(b"CAPABILITY")
    assert b"COMPRESS=DEFLATE" not in u[0]
    _, t = z.cmd(b"LOGOUT")
    assert b" OK " in t
    r.close()


def test_compress_bad_algorithm_and_state(server, user):
    r = server.raw()
    _, t = r.cmd("COMPRESS DEFLATE")
    assert status_of(t) == "BAD"      # not authenticated yet
    r.login(user, server.password(user))
    _, t = r.cmd("COMPRESS LZMA")
    assert status_of(t) == "BAD"
    r.ok("NOOP")
    r.close()


def test_garbage_after_compress_closes(server, user):
    r = server.raw(login=user)
    start_compress(r)
    r.send(b"\xff" * 64)                # not a deflate stream
    assert r.closed()
    server.assert_alive()


def test_compress_over_imaps(make_server):
    """The deflate filter sits above TLS: IMAPS, COMPRESS, a 200 KB FETCH."""
    srv = make_server(tls=True, listeners=("imap", "lmtp", "imaps"),
                      users={"t": "t-pw"}, pool=0)
    ctx = omtest.client_context(srv.cert)
    raw = socket.create_connection(("127.0.0.1", srv.ports["imaps"]), timeout=30)
    tls = ctx.wrap_socket(raw, server_hostname="localhost")
    r = omtest.RawImap(None, sock=tls)
    r.login("t", "t-pw")
    msg = messages.simple("tls big", body="abcdefghij" * 20000 + "\n")
    r.append("INBOX", msg)
    z = start_compress(r)
    _, t = z.cmd(b"SELECT INBOX")
    assert b" OK " in t
    u, t = z.cmd(b"FETCH 1 BODY.PEEK[]")
    assert b" OK " in t
    assert u[0].split(b"}\r\n", 1)[1][:len(msg)] == msg
    _, t = z.cmd(b"LOGOUT")
    assert b" OK " in t
    tls.close()
