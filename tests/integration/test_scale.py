"""The IO model (DESIGN.md): many idle connections cost little memory and
one delivery wakes every IDLE session of the mailbox. Numbers are measured
under ASan (with a small quarantine so RSS means something), so the bounds
are loose; the point is that they stay bounded."""

import socket
import time

import pytest

import messages
import omtest


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.fixture
def lean_server(make_server):
    # 200 sessions of one user: past the default max_connections_per_user (50)
    return make_server(conf={"max_connections_per_user": "0"},
                       env={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:quarantine_size_mb=1"})


def test_thousand_idle_connections(lean_server):
    srv = lean_server
    time.sleep(0.3)
    before = rss_kb(srv.proc.pid)
    socks = []
    try:
        for _ in range(1000):
            socks.append(socket.create_connection(("127.0.0.1", srv.ports["imap"]), timeout=20))
        for s in socks:
            assert s.recv(200).startswith(b"* OK")
        time.sleep(0.3)
        per_conn = (rss_kb(srv.proc.pid) - before) / 1000.0
        # and the server still answers at once
        t0 = time.time()
        with srv.raw(login="alice") as r:
            r.ok("NOOP")
        assert time.time() - t0 < 2
    finally:
        for s in socks:
            s.close()
        time.sleep(1)  # let the server see the closes (see the next test)
    print("RSS per idle connection: %.1f KB" % per_conn)
    assert per_conn < 64, "%.1f KB per idle connection" % per_conn


def test_sigterm_right_after_many_disconnects(make_server):
    """Closes in flight when the loops stop (deferred bufferevent callbacks
    holding references) must still be freed: no LeakSanitizer report."""
    for attempt in range(3):
        srv = make_server()
        socks = [socket.create_connection(("127.0.0.1", srv.ports["imap"]), timeout=20)
                 for _ in range(1000)]
        for s in socks:
            s.recv(100)
        for s in socks:
            s.close()
        rc, err = srv.stop(check=False)
        srv.cleanup()
        assert rc == 0 and not omtest.sanitizer_reports(err), omtest.log_excerpt(err)


def test_two_hundred_idle_sessions_woken(lean_server):
    srv = lean_server
    user = srv.take_user()
    warm = srv.raw(login=user)
    warm.ok("SELECT INBOX")
    time.sleep(0.3)
    before = rss_kb(srv.proc.pid)
    sessions = []
    try:
        for _ in range(200):
            r = srv.raw(login=user)
            r.ok("SELECT INBOX")
            tag = r.tag()
            r.send(tag + " IDLE\r\n")
            assert r.read_response().startswith(b"+")
            sessions.append((r, tag))
        time.sleep(0.3)
        per_session = (rss_kb(srv.proc.pid) - before) / 200.0
        t0 = time.time()
        assert srv.deliver(user + "@example.com", messages.simple("wake all"))[0][0] == 250
        for r, tag in sessions:
            r.sock.settimeout(max(0.1, 5 - (time.time() - t0)))
            line = r.read_response()
            while not line.endswith(b" EXISTS"):
                line = r.read_response()
            assert line == b"* 1 EXISTS", line
        woke = time.time() - t0
        for r, tag in sessions:
            r.sock.settimeout(20)
            r.send("DONE\r\n")
            u, t = r.collect(tag)
            assert omtest.status_of(t) == "OK", t
    finally:
        for r, _ in sessions:
            r.close()
        warm.close()
    print("RSS per IDLE session: %.1f KB; 200 woken in %.2fs" % (per_session, woke))
    assert woke < 5
    assert per_session < 256, "%.1f KB per IDLE session" % per_session


def test_round_trip_latency(server):
    """Replies written in several pieces must not stall on Nagle + delayed
    ACK (~40 ms per command): median NOOP/SELECT/FETCH well under that."""
    user = server.take_user()
    with server.raw(login=user) as r:
        for i in range(3):
            r.append("INBOX", messages.simple("latency %d" % i))
        times = {}
        for cmd in ("SELECT INBOX", "NOOP", "FETCH 1:3 (FLAGS UID)", "STATUS Sent (MESSAGES)"):
            samples = []
            for _ in range(15):
                t0 = time.time()
                r.ok(cmd)
                samples.append(time.time() - t0)
            times[cmd] = sorted(samples)[len(samples) // 2]
    slow = {c: "%.1f ms" % (t * 1000) for c, t in times.items() if t > 0.025}
    assert not slow, "median round trip over 25 ms: %r" % slow
