"""Hostile input: every case is answered with BAD/NO (or a closed
connection where the RFC leaves no other way), never a crash, never a file
outside the user's Maildir; after each, a fresh login and NOOP still work
(and the fixture's ASan/UBSan check at shutdown catches memory errors)."""

import os
import random
import socket
import time

import pytest

import messages
from omtest import RawImap, fetch_map, list_map, status_of


@pytest.fixture(autouse=True)
def still_serving(server):
    yield
    server.assert_alive()
    with server.raw(login="alice") as r:
        r.ok("NOOP")
        r.ok("SELECT INBOX")


def files_outside(server, user):
    """Paths under the server's base that are not where they belong."""
    allowed = os.path.join(server.mail_root, "")
    bad = []
    for root, dirs, files in os.walk(server.base):
        for n in dirs + files:
            p = os.path.join(root, n)
            if p.startswith(allowed) or root == server.base:
                continue
            bad.append(p)
    # and nothing in mail_root but user directories
    for n in os.listdir(server.mail_root):
        if not (n.startswith("u") or n in ("alice", "bob", "carol", "dave")):
            bad.append(os.path.join(server.mail_root, n))
    return bad


def tagged_status(r, cmd):
    try:
        u, t = r.cmd(cmd)
    except (EOFError, ConnectionResetError, BrokenPipeError):
        return "CLOSED"
    return status_of(t)


# --- login names -------------------------------------------------------------------

BAD_LOGINS = [b"..", b"../u00", b"u00/../u01", b"a/b", b"/etc", b"%u", b"%", b"%d%n", b"u00\x00",
              b"\x00u00", b"u0\x001", b"u00\r", b"u00\x01", b"", b"x" * 300, b"x" * 20000,
              b"@example.com", b"u00/", b"."]


@pytest.mark.parametrize("name", BAD_LOGINS, ids=[repr(n[:20]) for n in BAD_LOGINS])
def test_bad_login_names(server, name):
    with server.raw() as r:
        st = tagged_status(r, b"LOGIN {%d}\r\n" % len(name) + name + b" {5}\r\npw-u0")
        assert st in ("NO", "BAD", "CLOSED"), (name, st)
    with server.raw() as r:
        import base64
        ir = base64.b64encode(b"\0" + name + b"\0pw-u00")
        st = tagged_status(r, b"AUTHENTICATE PLAIN " + ir)
        assert st in ("NO", "BAD", "CLOSED"), (name, st)
    assert not files_outside(server, None)


def test_login_with_domain_maps_to_canonical_user(server):
    """"u02@" and "u02@example.com" may log in as u02 (domain dropped, as
    Dovecot's %n), but then they must use u02's own Maildir."""
    user = server.take_user()
    for name in (user + "@", user + "@example.com", user.upper()):
        with server.raw() as r:
            st = tagged_status(r, 'LOGIN "%s" "%s"' % (name, server.password(user)))
            assert st in ("OK", "NO"), (name, st)
            if st == "OK":
                r.ok("SELECT INBOX")
    assert sorted(n for n in os.listdir(server.mail_root) if n.lower().startswith(user)) in \
        ([], [user]), os.listdir(server.mail_root)


def test_authzid_other_user_refused(server):
    import base64
    with server.raw() as r:
        ir = base64.b64encode(b"u01\0u00\0pw-u00").decode()
        assert tagged_status(r, "AUTHENTICATE PLAIN " + ir) == "NO"


def test_lmtp_bad_recipients_create_nothing(server):
    with server.lmtp() as c:
        c.lhlo()
        c.cmd("MAIL FROM:<s@example.com>")
        for rc in ("../../x@example.com", "..@example.com", "a/b@example.com", "%u@example.com",
                   "u00/../u01@example.com", ".@example.com"):
            code, lines = c.cmd("RCPT TO:<%s>" % rc)
            assert 500 <= code < 600, (rc, code, lines)
    assert not files_outside(server, None)


# --- mailbox names -------------------------------------------------------------------

BAD_BOXES = [b"../x", b"a/../../b", b"/abs", b"", b"..", b".", b"a//b", b"a/./b",
             b"x/..", b"ctl\x01char", b"new\nline", b"cr\rx", b"nul\x00x", b"del\x7fx",
             b"y" * 300, b"z/" * 200 + b"z", b"w" * 100000, b"&", b"&Jjo"]


@pytest.mark.parametrize("name", BAD_BOXES, ids=[repr(n[:16]) for n in BAD_BOXES])
def test_bad_mailbox_names(server, name):
    user = server.take_user()
    lit = b"{%d}\r\n" % len(name) + name
    with server.raw(login=user) as r:
        before = set(list_map(r.ok('LIST "" "*"')[0]))
        for cmd in (b"CREATE " + lit, b"SELECT " + lit, b"EXAMINE " + lit, b"DELETE " + lit,
                    b"RENAME Sent " + lit, b"STATUS " + lit + b" (MESSAGES)",
                    b"APPEND " + lit + b" {5}\r\nhello", b"SUBSCRIBE " + lit):
            st = tagged_status(r, cmd)
            if name == b"" and cmd.startswith(b"SUBSCRIBE"):
                assert st in ("OK", "NO", "BAD"), st
                continue
            assert st in ("NO", "BAD", "CLOSED"), (name[:40], cmd[:40], st)
            if st == "CLOSED":
                r.__init__(server.ports["imap"])
                r.login(user, server.password(user))
        r.ok("SELECT INBOX")
        st = tagged_status(r, b"COPY 1 " + lit)
        assert st in ("NO", "BAD"), st
        after = set(list_map(r.ok('LIST "" "*"')[0]))
        assert after == before, after - before
    assert not files_outside(server, user)
    # the subscriptions file has no line made of pieces of the name
    subs = os.path.join(server.maildir(user), "subscriptions")
    if os.path.exists(subs):
        with open(subs, "rb") as f:
            lines = f.read().split(b"\n")
        assert b"line" not in lines and b"x" not in lines, lines


def test_dot_in_mailbox_name(server, user):
    """'.' is Maildir++'s separator on disk: "a.b" must not turn into a/b."""
    with server.raw(login=user) as r:
        st = tagged_status(r, 'CREATE "a.b"')
        lst = list_map(r.ok('LIST "" "*"')[0])
        if st == "OK":
            assert "a.b" in lst and "a/b" not in lst and "a" not in lst, lst
        else:
            assert st in ("NO", "BAD") and "a/b" not in lst, (st, lst)


def test_rename_inbox_outside(server, user):
    with server.raw(login=user) as r:
        assert tagged_status(r, 'RENAME INBOX "../stolen"') in ("NO", "BAD")
        assert tagged_status(r, 'RENAME "../u00" Mine') in ("NO", "BAD")
    assert not files_outside(server, user)


# --- literals, lines, nesting -----------------------------------------------------------

def test_huge_sync_literal_refused(server, user):
    with server.raw(login=user) as r:
        tag = r.tag()
        r.send(tag + " APPEND INBOX {100000000}\r\n")
        resp = r.read_response()
        assert not resp.startswith(b"+"), "continuation for a 100 MB literal: %r" % resp
        assert resp.startswith(tag.encode() + b" NO") or resp.startswith(tag.encode() + b" BAD") \
            or resp.startswith(b"* BYE"), resp
        try:
            r.ok("NOOP")
        except (EOFError, ConnectionResetError):
            pass  # hanging up is acceptable too


def test_huge_sync_literal_before_login(server):
    with server.raw() as r:
        tag = r.tag()
        r.send(tag + " LOGIN {100000000}\r\n")
        resp = r.read_response()
        assert not resp.startswith(b"+"), resp


def test_huge_nonsync_literal_closes(server, user):
    with server.raw(login=user) as r:
        tag = r.tag()
        r.send(tag + " APPEND INBOX {100000000+}\r\n")
        try:
            r.send(b"x" * (1 << 20))
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert r.closed(timeout=15), "connection kept open after a 100 MB LITERAL+"


def test_literal_over_mail_max_size(make_server):
    srv = make_server(conf={"mail_max_size": "100K"})
    user = srv.take_user()
    with srv.raw(login=user) as r:
        u, t = r.cmd("APPEND INBOX {200000}\r\n" + "a" * 200000)
        assert status_of(t) in ("NO", "BAD"), t
        r2 = srv.raw(login=user)
        r2.ok("NOOP")
        r2.close()


def test_one_megabyte_line(server, user):
    with server.raw(login=user) as r:
        st = tagged_status(r, "NOOP " + "a" * (1 << 20))
        assert st in ("BAD", "CLOSED"), st


def test_long_line_no_crlf_then_close(server):
    s = socket.create_connection(("127.0.0.1", server.ports["imap"]), timeout=10)
    s.recv(1000)
    try:
        for _ in range(8):
            s.sendall(b"b" * (1 << 20))
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.close()


@pytest.mark.parametrize("cmd", [
    "SEARCH " + "(" * 10000 + "ALL" + ")" * 10000,
    "SEARCH " + "NOT " * 10000 + "ALL",
    "SEARCH " + "OR ALL " * 10000 + "ALL",
    "FETCH 1 " + "(" * 10000 + "FLAGS" + ")" * 10000,
    "STORE 1 +FLAGS " + "(" * 10000 + ")" * 10000,
    "ID " + "(" * 10000 + ")" * 10000,
], ids=["search-parens", "search-not", "search-or", "fetch-parens", "store-parens", "id-parens"])
def test_deep_nesting(server, user, cmd):
    with server.raw(login=user) as r:
        r.append("INBOX", messages.MINIMAL)
        r.ok("SELECT INBOX")
        t0 = time.time()
        st = tagged_status(r, cmd)
        assert st in ("BAD", "NO", "CLOSED"), st
        assert time.time() - t0 < 10


def test_append_deep_flags(server, user):
    with server.raw(login=user) as r:
        st = tagged_status(r, b"APPEND INBOX " + b"(" * 10000 + b" {5}\r\nhello")
        assert st in ("BAD", "NO", "CLOSED"), st


def test_garbage_bytes(server):
    rnd = random.Random(1234)
    for _ in range(5):
        with server.raw() as r:
            junk = bytes(rnd.randrange(256) for _ in range(2000)).replace(b"{", b"(")
            try:
                r.send(junk + b"\r\n")
                r.send(b"Z1 NOOP\r\n")
                u, t = r.collect("Z1")
                assert t.startswith(b"Z1 OK"), t
            except (EOFError, ConnectionResetError, BrokenPipeError):
                pass


@pytest.mark.parametrize("line", [b"", b" ", b"*", b"+", b"a", b"a ", b"a{b NOOP", b"a\x00 NOOP",
                                  b"a NOOP\x00", b"\xff\xfe NOOP", b"a LOGIN", b"a LOGIN x",
                                  b"a LOGIN \"x", b"a LOGIN x y z", b"a CAPABILITY x",
                                  b"a UID", b"a UID FROB", b"a FETCH", b"a \"NOOP\"",
                                  b"a LOGIN {-1}", b"a LOGIN {99999999999999999999}",
                                  b"a LOGIN {1a}"])
def test_malformed_lines(server, line):
    with server.raw() as r:
        try:
            r.send(line + b"\r\n")
            r.send(b"Z9 NOOP\r\n")
            u, t = r.collect("Z9")
        except (EOFError, ConnectionResetError, BrokenPipeError):
            return
        # everything before Z9's answer is a BAD/untagged error, or a
        # continuation request for an accepted literal announcement
        assert t.startswith(b"Z9 OK") or t.startswith(b"Z9 BAD"), (line, u, t)


def test_unknown_commands(server):
    with server.raw() as r:
        for c in ("FROBNICATE", "XYZZY 1 2 3", "LOGOUTX", "SELECTX INBOX", "UID XYZZY 1"):
            assert tagged_status(r, c) == "BAD", c


def test_wrong_state_commands(server, user):
    with server.raw() as r:
        for c in ("SELECT INBOX", "CREATE x", "LIST \"\" *", "FETCH 1 FLAGS", "IDLE",
                  "APPEND INBOX {1+}\r\nx", "NAMESPACE", "UNSELECT", "EXPUNGE"):
            assert tagged_status(r, c) in ("BAD", "NO"), c
        r.login(user, server.password(user))
        for c in ("LOGIN a b", "AUTHENTICATE PLAIN AGEAYg==", "FETCH 1 FLAGS", "CLOSE", "MOVE 1 x"):
            assert tagged_status(r, c) in ("BAD", "NO"), c


def test_bad_sequence_sets(server, user):
    with server.raw(login=user) as r:
        for i in range(3):
            r.append("INBOX", messages.simple("seq %d" % i))
        r.ok("SELECT INBOX")
        for s in ("4294967296", "1:4294967296", "99999999999999999999", "-1", "1:", ":1",
                  "1,,2", "a", "1:2:3", "0"):
            st = tagged_status(r, "FETCH %s FLAGS" % s)
            assert st in ("BAD", "NO"), (s, st)
        st = tagged_status(r, "UID FETCH 1:4294967295 FLAGS")
        assert st == "OK"
        big = ",".join(str(i) for i in range(1, 100000))
        st = tagged_status(r, "UID FETCH %s FLAGS" % big)
        assert st in ("OK", "BAD", "NO", "CLOSED"), st


def test_pipelined_commands(server, user):
    with server.raw(login=user) as r:
        r.send(b"".join(b"P%d NOOP\r\n" % i for i in range(1000)))
        for i in range(1000):
            u, t = r.collect("P%d" % i)
            assert t.startswith(b"P%d OK" % i), t


def test_many_connections(server):
    socks = []
    try:
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", server.ports["imap"]), timeout=10)
            socks.append(s)
        for s in socks[::20]:
            assert s.recv(100).startswith(b"* OK")
    finally:
        for s in socks:
            s.close()


def test_auth_failures_disconnect(server, user):
    with server.raw() as r:
        statuses = []
        for _ in range(10):
            st = tagged_status(r, 'LOGIN %s "wrong"' % user)
            statuses.append(st)
            if st == "CLOSED":
                break
        assert "OK" not in statuses
        assert statuses[0] == "NO"


def test_lmtp_huge_bdat_and_data(make_server):
    """RFC 3030: a refused chunk is still read, so the 5xx comes after it.
    A huge announced chunk must cost nothing but the wait; a chunk over
    mail_max_size is read and refused with 552."""
    srv = make_server(conf={"mail_max_size": "100K"})
    user = srv.take_user()
    c = srv.lmtp()
    c.lhlo()
    c.cmd("MAIL FROM:<s@example.com>")
    c.cmd("RCPT TO:<%s@example.com>" % user)
    c.send_line("BDAT 100000000000 LAST")
    c.sock.sendall(b"x" * (1 << 20))
    c.sock.close()  # no QUIT: it would be read as chunk data
    with srv.lmtp() as c:
        c.lhlo()
        c.cmd("MAIL FROM:<s@example.com>")
        c.cmd("RCPT TO:<%s@example.com>" % user)
        c.sock.sendall(b"BDAT 200000 LAST\r\n" + b"y" * 200000)
        code, lines = c.reply()
        assert code == 552, (code, lines)
    with srv.lmtp() as c:
        c.lhlo()
        code, _ = c.cmd("MAIL FROM:<s@example.com> SIZE=99999999999999999999999")
        assert 500 <= code < 600, code
        res = c.send("s@example.com", [user + "@example.com"], messages.simple("after"))
        assert res[0][0] == 250, res
