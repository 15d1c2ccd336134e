"""Leases across backends (DESIGN.md rule 4, doc/obox.md "Leases"): a dead
backend's lease is broken at once by the next backend that opens the user
(its contact address refuses connections), a frozen backend's is not (its
listener still accepts in the kernel) and it loses the user when the lease
runs out: its sessions of that user get BYE and it writes nothing more.
Two backends on one store (the run's: file:, radosgw, RADOS), each with a
cache DIR of its own."""
import re
import signal
import time
import urllib.request

import pytest

import omtest

pytestmark = pytest.mark.obox_only


def pair(make_server, conf_a=None, conf_b=None):
    a = make_server(start=False, conf=dict(conf_a or {}, listen_metrics="127.0.0.1:0"))
    a.start()
    b = make_server(start=False, conf=dict(conf_b or {}, listen_metrics="127.0.0.1:0"))
    b.conf["objstore"] = a.conf["objstore"]
    b.start()
    return a, b


def message(i, tag):
    mid = "<%s-%d-%s@objmail.test>" % (tag, i, omtest.RUN_ID)
    return mid, ("From: a@example.com\r\nTo: b@example.com\r\nSubject: %s %d\r\n"
                 "Message-ID: %s\r\n\r\nbody %d\r\n" % (tag, i, mid, i)).encode()


def try_open(srv, user):
    """A session of user on srv with INBOX selected, or None (the user is
    served elsewhere: LOGIN or SELECT says NO [UNAVAILABLE])."""
    r = srv.raw()
    _u, tagged = r.cmd('LOGIN %s "pw-%s"' % (user, user))
    if tagged.split()[1] == b"OK":
        untagged, tagged = r.cmd("SELECT INBOX")
        if tagged.split()[1] == b"OK":
            return r
    assert b"UNAVAILABLE" in tagged, tagged
    r.close()
    return None


def message_ids(r):
    untagged, _ = r.ok("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    return {m.group(1).decode() for u in untagged
            for m in [re.search(rb"Message-ID: (<[^>]*>)", u, re.I)] if m}


def metric(srv, name):
    port = int(re.search(r"listening metrics 127\.0\.0\.1:(\d+)", srv.read_log()).group(1))
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as f:
        text = f.read().decode()
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    return int(m.group(1)) if m else None


def test_kill9_holder_lease_broken_at_once(make_server):
    # B's own lease would last 60 s: only the break can let it in quickly
    a, b = pair(make_server, conf_b={"obox_lease_ttl": "60s"})
    user = "u03"
    acked = set()
    for i in range(3):
        mid, msg = message(i, "k9")
        assert a.deliver(user + "@example.com", msg)[0][0] == 250
        acked.add(mid)
    ra = a.raw(login=user)
    ra.ok("SELECT INBOX")
    mid, msg = message(3, "k9")
    ra.append("INBOX", msg)
    acked.add(mid)
    ra.ok("STORE 1 +FLAGS (\\Seen)")
    time.sleep(1.5)  # flag changes go up with the next change log (~1 s)
    # A holds the user and is alive: B waits
    assert try_open(b, user) is None
    a.kill()
    a.proc = None  # killed on purpose
    ra.close()
    t0 = time.time()
    rb = None
    while rb is None and time.time() - t0 < 30:
        rb = try_open(b, user)
        if rb is None:
            time.sleep(0.1)
    took = time.time() - t0
    print("kill -9: B opened the user %.2fs after the kill" % took)
    assert rb is not None, "B never got the user"
    assert took < 5, "B needed %.1fs (the lease should have been broken at once)" % took
    assert message_ids(rb) == acked
    untagged, _ = rb.ok("FETCH 1 FLAGS")
    assert b"\\Seen" in untagged[0]
    rb.append("INBOX", message(9, "k9")[1])  # writable
    rb.close()
    log = b.read_log()
    assert re.search(r"warn: obox %s: broke the lease of \S+@127\.0\.0\.1:%d" %
                     (user, a.ports["imap"]), log), omtest.log_excerpt(log)
    assert metric(b, "objmail_obox_leases_broken_total") == 1


def test_frozen_holder_keeps_lease_then_loses_it(make_server):
    a, b = pair(make_server, conf_a={"obox_lease_ttl": "6s"}, conf_b={"obox_lease_ttl": "6s"})
    user = "u04"
    assert a.deliver(user + "@example.com", message(0, "fz")[1])[0][0] == 250
    ra = a.raw(login=user)
    ra.ok("SELECT INBOX")
    time.sleep(1.5)  # the change log is up; A is idle
    a.proc.send_signal(signal.SIGSTOP)
    t_stop = time.time()
    try:
        # A's listener still accepts (in the kernel): no break, B waits for
        # the lease to run out (it was renewed at most ttl/3 = 2 s before)
        rb = None
        refused_until = 0.0
        while time.time() - t_stop < 30:
            rb = try_open(b, user)
            if rb is not None:
                break
            refused_until = time.time() - t_stop
            time.sleep(0.3)
        took = time.time() - t_stop
        print("SIGSTOP: B refused for %.1fs, opened at %.1fs" % (refused_until, took))
        assert rb is not None, "B never got the user after A's lease ran out"
        # (the log and the metric below say it was not broken; the lease
        # had at least ttl - ttl/3 - 1 s = 3 s left unless A's flusher lagged)
        assert refused_until > 0 and took >= 1.0, \
            "B got the user %.1fs after A froze: lease broken?" % took
        assert "broke the lease" not in b.read_log()
        assert metric(b, "objmail_obox_leases_broken_total") == 0
        # B writes the user
        rb.append("INBOX", message(1, "fz")[1])
    finally:
        a.proc.send_signal(signal.SIGCONT)
    # A wakes up: its renewal finds B's lease; its session of the user is
    # told BYE and closed, and it changes nothing more
    ra.sock.settimeout(15)
    lines = []
    try:
        while True:
            line = ra.read_line()
            lines.append(line)
            if line.startswith(b"* BYE"):
                break
    except (EOFError, OSError):
        pass
    assert any(l.startswith(b"* BYE [UNAVAILABLE]") for l in lines), lines
    assert ra.closed(10)
    ra.close()
    assert try_open(a, user) is None  # B is alive: A may not take it back
    code, text = a.deliver(user + "@example.com", message(2, "fz")[1])[0]
    assert code == 451, (code, text)
    log = a.read_log()
    assert re.search(r"obox %s: lease lost" % user, log), omtest.log_excerpt(log)
    # B sees exactly its own and A's acknowledged mail
    assert message_ids(rb) == {message(0, "fz")[0], message(1, "fz")[0]}
    rb.ok("STORE 1:* +FLAGS (\\Flagged)")
    rb.close()
    b.stop(check=True)
    a.stop(check=True)


def test_lease_break_off(make_server):
    """obox_lease_break = no (a network whose firewall rejects with RST):
    a dead holder's lease only expires."""
    a, b = pair(make_server, conf_a={"obox_lease_ttl": "6s"},
                conf_b={"obox_lease_break": "no"})
    user = "u05"
    assert a.deliver(user + "@example.com", message(0, "nb")[1])[0][0] == 250
    a.kill()
    a.proc = None
    t0 = time.time()
    assert try_open(b, user) is None
    rb = None
    while rb is None and time.time() - t0 < 30:
        rb = try_open(b, user)
        if rb is None:
            time.sleep(0.3)
    assert rb is not None
    assert time.time() - t0 >= 1.5
    assert message_ids(rb) == {message(0, "nb")[0]}
    rb.close()
    assert "broke the lease" not in b.read_log()


def test_sigterm_holder_not_broken_while_shutting_down(make_server):
    """A backend stopping gracefully keeps its listening sockets (not
    accepting) until it released its leases: until then a connect to its
    address succeeds, so nobody breaks a lease it may still write under.
    A's lock calls are slowed (1.5 s) to widen that window."""
    a = make_server(start=False)
    shared = a.conf["objstore"]
    a.conf["objstore"] = "faulty:rate=0,delay=1500ms,ops=lock:" + shared
    a.start()
    b = make_server(start=False, conf={"listen_metrics": "127.0.0.1:0"})
    b.conf["objstore"] = shared
    b.start()
    user = "u06"
    assert a.deliver(user + "@example.com", message(0, "st")[1])[0][0] == 250
    ra = a.raw(login=user)
    ra.ok("SELECT INBOX")
    ra.ok("STORE 1 +FLAGS (\\Flagged)")
    a.proc.send_signal(signal.SIGTERM)
    t0 = time.time()
    rb = None
    tries = 0
    while rb is None and time.time() - t0 < 30:
        rb = try_open(b, user)
        tries += 1
        if rb is None:
            time.sleep(0.1)
    assert rb is not None, "B never got the user after A stopped"
    a.proc.wait(30)
    print("SIGTERM: B opened the user after %d tries, %.1fs" % (tries, time.time() - t0))
    assert "broke the lease" not in b.read_log(), omtest.log_excerpt(b.read_log())
    assert metric(b, "objmail_obox_leases_broken_total") == 0
    # A's final upload is what B serves
    untagged, _ = rb.ok("FETCH 1 FLAGS")
    assert b"\\Flagged" in untagged[0]
    rb.close()
    ra.close()
    a.stop(check=True)
