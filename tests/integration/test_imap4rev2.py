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


def _rev2(server, user):
    r = server.raw(login=user)
    r.ok("ENABLE IMAP4rev2")
    return r


def test_rev2_select_list_line(server, user):
    """RFC 9051 6.3.2: SELECT/EXAMINE answer a LIST line with the mailbox's
    attributes, no RECENT and no [UNSEEN]; [CLOSED] when a mailbox was
    selected. rev1 keeps RECENT and [UNSEEN] and has no LIST line."""
    r = server.raw(login=user)
    r.append("INBOX", messages.simple("a"), flags="\\Seen")
    r.append("INBOX", messages.simple("b"))
    r.ok("CREATE Fold/Sub")
    u, _ = r.ok("SELECT INBOX")
    assert untagged_named(u, "RECENT")
    assert any(x.startswith(b"* OK [UNSEEN 2]") for x in u)
    assert not untagged_named(u, "LIST")
    r.close()

    r = _rev2(server, user)
    u, _ = r.ok("SELECT INBOX")
    assert untagged_named(u, "LIST") == [b'* LIST (\\HasNoChildren) "/" "INBOX"']
    assert not untagged_named(u, "RECENT")
    assert not any(b"UNSEEN" in x for x in u)
    assert not any(b"[CLOSED]" in x for x in u)
    u, t = r.ok("EXAMINE Sent")
    assert u[0].startswith(b"* OK [CLOSED]")
    assert untagged_named(u, "LIST") == [b'* LIST (\\HasNoChildren \\Sent) "/" "Sent"']
    assert b"[READ-ONLY]" in t
    u, _ = r.ok("SELECT Fold")
    assert untagged_named(u, "LIST") == [b'* LIST (\\HasChildren) "/" "Fold"']
    # a name the storage changed ("inbox/x" is "INBOX/x") comes back as OLDNAME
    r.ok("CREATE INBOX/Kid")
    u, _ = r.ok("SELECT inbox/Kid")
    assert untagged_named(u, "LIST") == [
        b'* LIST (\\HasNoChildren) "/" "INBOX/Kid" ("OLDNAME" ("inbox/Kid"))']
    u, t = r.cmd("SELECT Nowhere")
    assert status_of(t) == "NO" and u[0].startswith(b"* OK [CLOSED]")
    r.close()


def test_rev2_removed_fetch_items(server, user):
    """RFC822, RFC822.HEADER, RFC822.TEXT are gone from rev2's grammar:
    BAD there; a rev1 session still gets them (RFC 3501)."""
    msg = b"Subject: x\r\n\r\nbody\r\n"
    r = server.raw(login=user)
    r.append("INBOX", msg)
    r.ok("SELECT INBOX")
    u, _ = r.ok("FETCH 1 (RFC822.HEADER RFC822.SIZE)")
    assert u == [b"* 1 FETCH (RFC822.SIZE %d RFC822.HEADER {14}\r\nSubject: x\r\n\r\n)"
                 % len(msg)]
    u, _ = r.ok("FETCH 1 RFC822.TEXT")
    assert u[0].endswith(b" RFC822.TEXT {6}\r\nbody\r\n)")
    u, _ = r.ok("FETCH 1 RFC822")
    assert u[0].endswith(msg + b")")
    r.close()

    r = _rev2(server, user)
    r.ok("SELECT INBOX")
    for item in ("RFC822", "RFC822.HEADER", "(FLAGS RFC822.TEXT)"):
        _, t = r.cmd("FETCH 1 " + item)
        assert status_of(t) == "BAD", item
        _, t = r.cmd("UID FETCH 1:* " + item)
        assert status_of(t) == "BAD", item
    u, _ = r.ok("FETCH 1 (RFC822.SIZE BODY.PEEK[HEADER] BODY.PEEK[TEXT])")
    assert u == [b"* 1 FETCH (RFC822.SIZE %d BODY[HEADER] {14}\r\nSubject: x\r\n\r\n"
                 b" BODY[TEXT] {6}\r\nbody\r\n)" % len(msg)]
    # FAST/ALL/FULL are still there
    r.ok("FETCH 1 FULL")
    r.close()


def test_rev2_no_recent_keys(server, user):
    """No \\Recent in rev2: the NEW/OLD/RECENT search keys and the RECENT
    STATUS item are BAD there (RFC 9051 9), fine in rev1."""
    r = server.raw(login=user)
    r.append("INBOX", messages.simple("a"))
    r.ok("SELECT INBOX")
    u, _ = r.ok("SEARCH NEW")
    assert u == [b"* SEARCH 1"]
    u, _ = r.ok("STATUS INBOX (RECENT)")
    assert u[0].startswith(b'* STATUS "INBOX" (RECENT ')
    r.close()

    r = _rev2(server, user)
    r.ok("SELECT INBOX")
    for c in ("SEARCH RECENT", "SEARCH NEW", "UID SEARCH NOT OLD",
              "SEARCH RETURN (COUNT) OR NEW SEEN", "SORT (DATE) UTF-8 RECENT",
              "STATUS INBOX (MESSAGES RECENT)",
              'LIST "" "*" RETURN (STATUS (RECENT))'):
        _, t = r.cmd(c)
        assert status_of(t) == "BAD", c
    u, t = r.ok("SEARCH UNSEEN")
    assert u == [b'* ESEARCH (TAG "%s") ALL 1' % t.split(b" ")[0]]
    # nothing found: the tag only (RFC 4731 3.1)
    u, t = r.ok("UID SEARCH DELETED")
    assert u == [b'* ESEARCH (TAG "%s") UID' % t.split(b" ")[0]]
    r.close()


def test_rev2_nonexistent_parent(server, user):
    """A level that is there only because of a child: \\NonExistent in rev2
    (LIST-EXTENDED is base there, RFC 9051 7.3.1), \\Noselect in rev1."""
    r = server.raw(login=user)
    r.ok("CREATE Lvl/Mid/Leaf")
    r.ok("DELETE Lvl/Mid")
    u, _ = r.ok('LIST "" "Lvl/%"')
    assert u == [b'* LIST (\\Noselect \\HasChildren) "/" "Lvl/Mid"']
    r.close()
    r = _rev2(server, user)
    u, _ = r.ok('LIST "" "Lvl/%"')
    assert u == [b'* LIST (\\NonExistent \\HasChildren) "/" "Lvl/Mid"']
    u, _ = r.ok('LIST "" "Lvl/*" RETURN (STATUS (MESSAGES))')
    assert u == [b'* LIST (\\NonExistent \\HasChildren) "/" "Lvl/Mid"',
                 b'* LIST (\\HasNoChildren) "/" "Lvl/Mid/Leaf"',
                 b'* STATUS "Lvl/Mid/Leaf" (MESSAGES 0)']
    r.close()


def test_appendlimit(server, user):
    """APPENDLIMIT=n (RFC 7889) in CAPABILITY; STATUS and LIST-STATUS
    answer the same n; a bigger APPEND is refused with [TOOBIG]."""
    r = server.raw(login=user)
    u, _ = r.ok("CAPABILITY")
    lim = [c for c in u[0].split() if c.startswith(b"APPENDLIMIT=")]
    assert len(lim) == 1
    n = int(lim[0].split(b"=")[1])
    assert n > 0
    u, _ = r.ok("STATUS INBOX (APPENDLIMIT)")
    assert u == [b'* STATUS "INBOX" (APPENDLIMIT %d)' % n]
    u, _ = r.ok('LIST "" "INBOX" RETURN (STATUS (MESSAGES APPENDLIMIT))')
    assert u[1] == b'* STATUS "INBOX" (MESSAGES 0 APPENDLIMIT %d)' % n
    _, t = r.cmd("APPEND INBOX {%d}" % (n + 1))
    assert status_of(t) == "BAD" and b"[TOOBIG]" in t
    r.ok("NOOP")    # refused before the bytes: the connection goes on
    r.close()


def test_literal_minus_not_announced(server):
    """RFC 7888 5: LITERAL+ and LITERAL- are never announced together;
    LITERAL+ covers what a LITERAL- (rev2) client sends."""
    r = server.raw()
    u, _ = r.ok("CAPABILITY")
    caps = u[0].split()
    assert b"LITERAL+" in caps and b"LITERAL-" not in caps
    r.close()


def test_rev2_unsolicited_fetch_has_uid(server, user):
    """RFC 9051 7.5.2: an unsolicited FETCH carries UID (new in rev2); a
    rev1 session gets FLAGS alone, as before."""
    r1 = server.raw(login=user)
    r1.append("INBOX", messages.simple("a"))
    r1.ok("SELECT INBOX")
    r2 = _rev2(server, user)
    r2.ok("SELECT INBOX")
    other = server.raw(login=user)
    other.ok("SELECT INBOX")
    other.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")
    other.close()
    u, _ = r2.ok("NOOP")
    assert untagged_named(u, "FETCH") == [b"* 1 FETCH (UID 1 FLAGS (\\Flagged))"]
    u, _ = r1.ok("NOOP")
    assert untagged_named(u, "FETCH") == [b"* 1 FETCH (FLAGS (\\Flagged \\Recent))"]
    r1.close()
    r2.close()


def test_rev2_oldname_on_create_rename(server, user):
    """RFC 9051 6.3.4/6.3.6: the storage keeps "inbox/x" as "INBOX/x"; a
    rev2 client is told with a LIST line carrying OLDNAME. Names it keeps
    as sent get nothing, and rev1 never gets it."""
    r = _rev2(server, user)
    u, _ = r.ok("CREATE inbox/New")
    assert u == [b'* LIST (\\HasNoChildren) "/" "INBOX/New" ("OLDNAME" ("inbox/New"))']
    u, _ = r.ok("CREATE Plain")
    assert u == []
    u, _ = r.ok("RENAME Plain Inbox/Moved")
    assert u == [b'* LIST (\\HasNoChildren) "/" "INBOX/Moved" ("OLDNAME" ("Inbox/Moved"))']
    r.close()
    r = server.raw(login=user)
    u, _ = r.ok("CREATE inbox/Other")
    assert u == []
    r.close()


def test_envelope_nil_rules(server, user):
    """RFC 9051 7.5.2 (ENVELOPE): absent Subject/In-Reply-To -> NIL, present
    but empty -> ""; empty To -> NIL; empty Sender/Reply-To -> From.
    BODYSTRUCTURE joins RFC 2231 continuations. Same in rev1 and rev2."""
    msg = (b"Subject:\r\nTo:\r\nSender:\r\nFrom: A <a@b.example>\r\nIn-Reply-To:\r\n"
           b"Content-Type: text/plain; title*0=\"ab\"; title*1=\"cd\"\r\n\r\nbody\r\n")
    for rev2 in (False, True):
        r = _rev2(server, user) if rev2 else server.raw(login=user)
        if not rev2:
            r.append("INBOX", msg)
        r.ok("EXAMINE INBOX")
        u, _ = r.ok("FETCH 1 (ENVELOPE BODYSTRUCTURE)")
        a = b'(("A" NIL "a" "b.example"))'
        assert u[0].startswith(b'* 1 FETCH (ENVELOPE (NIL "" ' + a + b" " + a + b" " + a +
                               b' NIL NIL NIL "" NIL) BODYSTRUCTURE ')
        assert b'"title" "abcd"' in u[0]
        r.close()
