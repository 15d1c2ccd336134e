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
