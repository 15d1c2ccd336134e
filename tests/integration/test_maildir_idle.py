"""IDLE on a Maildir sees changes made by other processes: Dovecot serving
the same Maildir, and a delivery agent writing tmp/ then renaming into new/
(procmail, maildrop, dovecot-lda all do this)."""

import os
import re
import socket
import time

import messages
import omtest

USER, PW = "watcher", "watcher-pw"


def idle_until(r, pattern, timeout=10.0):
    """Read untagged responses during IDLE until one matches pattern."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        r.sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            resp = r.read_response()
        except (socket.timeout, TimeoutError):
            break
        seen.append(resp)
        if rx.search(resp):
            r.sock.settimeout(omtest.IO_TIMEOUT)
            return resp
    r.sock.settimeout(omtest.IO_TIMEOUT)
    raise AssertionError("no %r during IDLE within %.0fs; saw %r" % (pattern, timeout, seen))


def start_idle(r):
    tag = r.tag()
    r.send("%s IDLE\r\n" % tag)
    assert r.read_response().startswith(b"+")
    return tag


def end_idle(r, tag):
    r.send("DONE\r\n")
    _, tagged = r.collect(tag)
    assert b" OK" in tagged


def test_delivery_agent_rename_into_new(make_server):
    srv = make_server(users={USER: PW})
    with srv.raw(login=USER) as r:
        r.append("INBOX", messages.simple(subject="first"))
        r.ok("SELECT INBOX")
        tag = start_idle(r)
        # what procmail/maildrop/dovecot-lda do: write tmp/, rename into new/
        root = os.path.join(srv.mail_root, USER)
        name = "%d.M1P%d.outside" % (int(time.time()), os.getpid())
        tmp = os.path.join(root, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(messages.simple(subject="from outside").replace(b"\r\n", b"\n"))
        os.rename(tmp, os.path.join(root, "new", name))
        idle_until(r, rb"^\* 2 EXISTS")
        end_idle(r, tag)
        untagged, _ = r.ok("FETCH 2 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert b"from outside" in b"".join(untagged)


def test_dovecot_changes_reach_objmail_idle(make_server):
    omtest.need_root()
    omtest.need(omtest.DOVECOT)
    srv = make_server(start=False, users={USER: PW})
    dv = omtest.Dovecot(srv.mail_root, {USER: PW}, base=os.path.join(srv.base, "dovecot"))
    omtest.chown_tree(srv.mail_root)
    try:
        dv.start()
        with dv.raw(login=USER) as d:
            d.append("INBOX", messages.simple(subject="one"))
        omtest.chown_tree(srv.mail_root)
        srv.start()
        with srv.raw(login=USER) as r, dv.raw(login=USER) as d:
            r.ok("SELECT INBOX")
            tag = start_idle(r)
            d.append("INBOX", messages.simple(subject="two"))
            idle_until(r, rb"^\* 2 EXISTS")
            d.ok("SELECT INBOX")
            d.ok("STORE 1 +FLAGS (\\Flagged)")
            idle_until(r, rb"^\* 1 FETCH \(.*FLAGS \([^)]*\\Flagged")
            d.ok("STORE 2 +FLAGS (\\Deleted)")
            d.ok("EXPUNGE")
            idle_until(r, rb"^\* 2 EXPUNGE")
            end_idle(r, tag)
            untagged, _ = r.ok("FETCH 1:* (FLAGS)")
            assert len([u for u in untagged if b"FETCH" in u]) == 1
    finally:
        dv.stop()
