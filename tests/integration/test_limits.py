"""Limits (issue 7), each from the config with a sane default
(doc/config.md "Limits"): connections per IP and per user, auth failures
per IP, command line length, literal size, mail size (IMAP and LMTP),
number of mailboxes, idle timeouts before and after login."""

import socket
import time

import omtest
from omtest import status_of


def login_status(r, user, pw):
    _, t = r.cmd("LOGIN %s %s" % (omtest.quote(user), omtest.quote(pw)))
    return t


def test_defaults_are_set(make_server):
    srv = make_server(start=False)
    srv.write_files()
    r = srv.objmail("config")
    out = r.stdout.decode()
    for line in ("max_connections_per_user = 50", "auth_failures_per_ip = 100",
                 "max_mailboxes = 10000", "auth_failure_window = 5m"):
        assert line in out, (line, out)


def test_connections_per_user(make_server):
    srv = make_server(conf={"max_connections_per_user": "3"})
    user = srv.take_user()
    sessions = [srv.raw(login=user) for _ in range(3)]
    with srv.raw() as r:
        t = login_status(r, user, srv.password(user))
        assert t.startswith(b"T001 NO [UNAVAILABLE]"), t
        # other users are not affected
        other = srv.take_user()
        assert status_of(login_status(r, other, srv.password(other))) == "OK"
    sessions.pop().close()
    deadline = time.time() + 5
    while True:
        with srv.raw() as r:
            if status_of(login_status(r, user, srv.password(user))) == "OK":
                break
        assert time.time() < deadline, "a freed session slot was not given back"
        time.sleep(0.1)
    for s in sessions:
        s.close()


def test_connections_per_ip(make_server):
    srv = make_server(conf={"max_connections_per_ip": "2"})
    a, b = srv.raw(), srv.raw()
    s = socket.create_connection(("127.0.0.1", srv.ports["imap"]), timeout=10)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    assert not data.startswith(b"* OK"), data
    a.close()
    b.close()


def test_auth_failures_per_ip(make_server):
    srv = make_server(conf={"auth_failures_per_ip": "3", "auth_failure_window": "60s",
                            "auth_failure_delay": "0"})
    user = srv.take_user()
    for _ in range(3):
        with srv.raw() as r:
            t = login_status(r, user, "wrong")
            assert b"[AUTHENTICATIONFAILED]" in t, t
    # now even the right password is refused, without being checked
    with srv.raw() as r:
        t = login_status(r, user, srv.password(user))
        assert t.startswith(b"T001 NO [UNAVAILABLE]"), t
        import base64
        ir = base64.b64encode(b"\0" + user.encode() + b"\0" + srv.password(user).encode())
        _, t = r.cmd(b"AUTHENTICATE PLAIN " + ir)
        assert status_of(t) == "NO", t
    # LMTP is not affected
    assert srv.deliver(user + "@example.com", "Subject: x\r\n\r\nx\r\n")[0][0] == 250


def test_auth_failure_window_ends(make_server):
    srv = make_server(conf={"auth_failures_per_ip": "2", "auth_failure_window": "2s",
                            "auth_failure_delay": "0"})
    user = srv.take_user()
    for _ in range(2):
        with srv.raw() as r:
            login_status(r, user, "wrong")
    with srv.raw() as r:
        assert b"[UNAVAILABLE]" in login_status(r, user, srv.password(user))
    time.sleep(3.1)
    with srv.raw() as r:
        assert status_of(login_status(r, user, srv.password(user))) == "OK"


def test_command_line_length(make_server):
    srv = make_server(conf={"imap_max_line": "1K"})
    user = srv.take_user()
    with srv.raw(login=user) as r:
        r.send(b"T1 NOOP " + b"x" * 4000 + b"\r\n")
        try:
            line = r.read_line()
        except EOFError:
            line = b"CLOSED"
        assert line.startswith((b"T1 BAD", b"* BYE", b"CLOSED")), line
    # the server is fine
    with srv.raw(login=user) as r:
        r.ok("NOOP")


def test_literal_size_and_imap_mail_size(make_server):
    srv = make_server(conf={"mail_max_size": "10K"})
    user = srv.take_user()
    with srv.raw(login=user) as r:
        # refused at the literal's announcement: no "+", no 20000 bytes read
        r.send(b"T1 APPEND INBOX {20000}\r\n")
        line = r.read_line()
        assert line.startswith((b"T1 NO", b"T1 BAD")), line
        assert b"TOOBIG" in line or b"LIMIT" in line, line
    with srv.raw(login=user) as r:
        # non-synchronizing literal: the bytes come anyway and are skipped
        r.send(b"T2 APPEND INBOX {20000+}\r\n" + b"x" * 20000 + b"\r\n")
        try:
            while True:
                line = r.read_line()
                if line.startswith(b"T2 "):
                    break
        except (EOFError, ConnectionResetError):
            line = b"CLOSED"
        # refused (or the connection closed after saying why), never stored
        assert line.startswith((b"T2 NO", b"T2 BAD", b"CLOSED")), line
    with srv.raw(login=user) as r:
        untagged, _ = r.ok("STATUS INBOX (MESSAGES)")
        assert b"MESSAGES 0" in untagged[0], untagged
        small = b"Subject: s\r\n\r\n" + b"y" * 5000 + b"\r\n"
        r.append("INBOX", small)


def test_lmtp_mail_size(make_server):
    srv = make_server(conf={"mail_max_size": "10K"})
    user = srv.take_user()
    with srv.lmtp() as c:
        c.lhlo()
        code, lines = c.cmd("MAIL FROM:<a@example.com> SIZE=50000")
        assert code == 552, (code, lines)
    res = srv.deliver(user + "@example.com", "Subject: big\r\n\r\n" + "z" * 30000 + "\r\n")
    assert res[0][0] == 552, res
    assert srv.deliver(user + "@example.com", "Subject: ok\r\n\r\nsmall\r\n")[0][0] == 250


def test_max_mailboxes(make_server):
    srv = make_server(conf={"max_mailboxes": "9"})
    user = srv.take_user()
    with srv.raw(login=user) as r:
        untagged, _ = r.ok('LIST "" "*"')
        have = len(untagged)  # INBOX and the special-use defaults count
        assert have < 8, untagged
        for i in range(9 - have):
            r.ok("CREATE box%d" % i)
        _, t = r.cmd("CREATE onemore")
        assert status_of(t) == "NO" and b"[LIMIT]" in t, t
        # parents count too: a/b/c would need 3 more
        _, t = r.cmd("CREATE deep/er/still")
        assert status_of(t) == "NO", t
        untagged, _ = r.ok('LIST "" "*"')
        assert len(untagged) == 9, untagged
        r.ok("DELETE box0")
        r.ok("CREATE onemore")


def test_login_timeout(make_server):
    srv = make_server(conf={"login_timeout": "2s"})
    with srv.raw() as r:
        t0 = time.time()
        assert r.closed(timeout=10), "not closed before login"
        assert time.time() - t0 < 8


def test_idle_timeout_after_login(make_server):
    srv = make_server(conf={"imap_idle_timeout": "2s"})
    user = srv.take_user()
    with srv.raw(login=user) as r:
        t0 = time.time()
        assert r.closed(timeout=10), "not closed when idle after login"
        assert time.time() - t0 < 8
