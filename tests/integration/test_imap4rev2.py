"""IMAP4rev2 (RFC 9051) beside IMAP4rev1, UTF8=ACCEPT (RFC 6855) and
LITERAL+ (RFC 7888): ENABLE IMAP4rev2 switches the session to rev2
behaviour: no RECENT responses or \\Recent, ESEARCH answers to SEARCH,
mailbox names in UTF-8; a rev1 session keeps the old forms."""

import pytest

import messages
import omtest
from omtest import status_of, untagged_named

pytestmark = pytest.mark.skipif(omtest.server_class() is not omtest.Objmaild,
                                reason="objmail-specific expectations")


def test_both_announced(server):
    r = server.raw()
    caps = r.greeting.split(b"]")[0].split()
    assert b"IMAP4rev1" in caps and b"IMAP4rev2" in caps
    r.close()


def test_rev1_session_unchanged(server, user):
    r = server.raw(login=user)
    r.append("INBOX", messages.simple("a"))
    r.ok('CREATE "Gr&APw-n"')
    u, _ = r.ok("SELECT INBOX")
    assert untagged_named(u, "RECENT")
    u, _ = r.ok("SEARCH ALL")
    assert u[0] == b"* SEARCH 1"
    u, _ = r.ok('LIST "" "Gr*"')
    assert u[0].endswith(b'"Gr&APw-n"')
    r.close()


def test_rev2_session(server, user):
    r = server.raw(login=user)
    r.append("INBOX", messages.simple("a"))
    r.append("INBOX", messages.simple("b"))
    u, _ = r.ok("ENABLE IMAP4rev2")
    assert u == [b"* ENABLED IMAP4rev2"]
    u, _ = r.ok("SELECT INBOX")
    assert not untagged_named(u, "RECENT")
    assert untagged_named(u, "EXISTS")
    u, _ = r.ok("FETCH 1:* FLAGS")
    assert all(b"\\Recent" not in x for x in u)
    u, t = r.ok("SEARCH ALL")
    assert u == [b"* ESEARCH (TAG \"%s\") ALL 1:2" % t.split(b" ")[0]]
    u, t = r.ok("UID SEARCH ALL")
    assert u[0].endswith(b"UID ALL 1:2")
    # a new message: EXISTS, no RECENT
    server.deliver(user + "@example.com", messages.simple("c"))
    u, _ = r.ok("NOOP")
    assert untagged_named(u, "EXISTS") and not untagged_named(u, "RECENT")
    # UTF-8 mailbox names in and out
    r.ok('CREATE "Grün"')
    u, _ = r.ok('LIST "" "Gr*"')
    assert u == ['* LIST (\\HasNoChildren) "/" "Grün"'.encode()]
    u, _ = r.ok('STATUS "Grün" (MESSAGES SIZE DELETED)')
    assert u == ['* STATUS "Grün" (MESSAGES 0 SIZE 0 DELETED 0)'.encode()]
    r.close()
    # the same mailbox in modified UTF-7 for a rev1 session
    r = server.raw(login=user)
    u, _ = r.ok('LIST "" "Gr*"')
    assert u[0].endswith(b'"Gr&APw-n"')
    r.close()


def test_utf8_accept_append(server, user):
    r = server.raw(login=user)
    msg = "From: a@example.com\r\nSubject: Grüße\r\n\r\nbody ü\r\n".encode()
    _, t = r.cmd(b"APPEND INBOX UTF8 (~{%d}\r\n" % len(msg) + msg + b")")
    assert status_of(t) in ("BAD", "NO")    # not enabled yet
    r.ok("ENABLE UTF8=ACCEPT")
    r.ok(b"APPEND INBOX UTF8 (~{%d+}\r\n" % len(msg) + msg + b")")
    r.ok("SELECT INBOX")
    u, _ = r.ok("FETCH 1 BODY.PEEK[]")
    assert msg in u[0]
    r.close()


def test_literal_plus_nonsync(server, user):
    r = server.raw(login=user)
    r.send(b"L1 CREATE {5+}\r\nLitMb\r\n")
    assert r.collect("L1")[1].startswith(b"L1 OK")
    r.close()


BIN_MSG = omtest.crlf("""\
From: a@example.com
Subject: binary parts
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="xx"

--xx
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

caf=C3=A9 =3D ok
--xx
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

AAECAwQFBgc=
--xx--
""")


def test_binary_fetch(server, user):
    """BINARY (RFC 3516): decoded parts, literal8 for NUL, BINARY.SIZE,
    partial, PEEK vs \\Seen, APPEND with a literal8."""
    r = server.raw(login=user)
    u, _ = r.ok("CAPABILITY")
    assert b"BINARY" in u[0].split()
    r.ok(b"APPEND INBOX ~{%d}\r\n" % len(BIN_MSG) + BIN_MSG)
    r.ok("SELECT INBOX")
    u, _ = r.ok("FETCH 1 (BINARY.SIZE[1] BINARY.SIZE[2])")
    assert u == [b"* 1 FETCH (BINARY.SIZE[1] 10 BINARY.SIZE[2] 8)"]
    u, _ = r.ok("FETCH 1 (BINARY.PEEK[1] BINARY.PEEK[2])")
    assert u == [b"* 1 FETCH (BINARY[1] {10}\r\n" + "café = ok".encode() +
                 b" BINARY[2] ~{8}\r\n\x00\x01\x02\x03\x04\x05\x06\x07)"]
    u, _ = r.ok("FETCH 1 (BINARY.PEEK[2]<2.3>)")
    assert u == [b"* 1 FETCH (BINARY[2]<2> {3}\r\n\x02\x03\x04)"]
    u, _ = r.ok("FETCH 1 FLAGS")
    assert b"\\Seen" not in u[0]
    u, _ = r.ok("FETCH 1 BINARY[1]")
    assert b"\\Seen" in u[0]
    u, _ = r.ok("FETCH 1 BINARY.PEEK[]")
    assert u[0].endswith(BIN_MSG + b")")
    _, t = r.cmd("FETCH 1 BINARY[HEADER]")
    assert status_of(t) == "BAD"
    _, t = r.cmd("FETCH 1 BINARY.SIZE[1]<0.1>")
    assert status_of(t) == "BAD"
    r.close()
