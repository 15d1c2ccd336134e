"""obox never loses mail (issue 3, "How it is shown"), on the storage of the
run: obox over file: (OBJMAIL_STORAGE=obox-file), the real radosgw
(obox-s3) and the real RADOS cluster (obox-rados). Deselected in the
maildir run. See doc/testing.md."""

import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

import obox_store
import omtest

pytestmark = pytest.mark.obox_only

STORAGE = omtest.STORAGE
LOG_DELAY = 1.0  # doc/obox.md: change records are uploaded about once a second


def obox_server(make_server, start=True, conf=None, **kw):
    c = {"listen_admin": "unix:admin.sock"}
    c.update(conf or {})
    srv = make_server(start=False, conf=c, **kw)
    srv.conf["listen_admin"] = "unix:" + os.path.join(srv.base, "admin.sock")
    if start:
        srv.start()
    return srv


def cache_dir(srv):
    return srv.conf["mail_location"][5:]


def message(i, tag="m"):
    mid = "<%s-%d-%s@objmail.test>" % (tag, i, omtest.RUN_ID)
    return mid, ("From: a@example.com\r\nTo: b@example.com\r\nSubject: %s %d\r\n"
                 "Message-ID: %s\r\n\r\nbody %d\r\n" % (tag, i, mid, i)).encode()


def message_ids(srv, user, box="INBOX"):
    """[Message-ID] of every message in box, in order (a list: duplicates show)."""
    with srv.raw(login=user) as r:
        untagged, _ = r.ok("SELECT " + box)
        if not any(re.match(rb"\* [1-9]\d* EXISTS", u) for u in untagged):
            return []
        untagged, _ = r.ok("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    out = []
    for u in untagged:
        m = re.search(rb"Message-ID: (<[^>]*>)", u, re.I)
        if m:
            out.append(m.group(1).decode())
    return out


def flags_by_mid(srv, user):
    with srv.raw(login=user) as r:
        r.ok("SELECT INBOX")
        untagged, _ = r.ok("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    out = {}
    for u in untagged:
        m = re.search(rb"Message-ID: (<[^>]*>)", u, re.I)
        f = re.search(rb"FLAGS \(([^)]*)\)", u)
        if m and f:
            out[m.group(1).decode()] = set(f.group(1).decode().split())
    return out


def kill9_and_restart(srv, wipe_cache=False):
    srv.kill()
    srv.proc = None
    srv._log.close()
    os.rename(srv.log_path, srv.log_path + ".killed")
    if wipe_cache:
        shutil.rmtree(cache_dir(srv))
    srv.start()


class Deliverer:
    """N LMTP sessions delivering distinct mails; records every 250."""

    def __init__(self, srv, rcpt, total, sessions=10):
        self.srv, self.rcpt, self.total, self.sessions = srv, rcpt, total, sessions
        self.acked = []
        self.other = []
        self.lock = threading.Lock()
        # daemon: a failed test must not leave pytest waiting for them
        self.threads = [threading.Thread(target=self.run, args=(t,), daemon=True)
                        for t in range(sessions)]

    def run(self, t):
        try:
            c = omtest.Lmtp(self.srv.ports["lmtp"])
            c.lhlo()
            for i in range(t, self.total, self.sessions):
                mid, msg = message(i, "crash")
                code, text = c.send("s@example.com", [self.rcpt], msg)[0]
                with self.lock:
                    (self.acked if code == 250 else self.other).append((mid, code, text))
        except (OSError, EOFError, omtest.LmtpError):
            return  # the backend died under us: mails not acked are not promised

    def start(self):
        for th in self.threads:
            th.start()

    def join(self):
        for th in self.threads:
            th.join(120)

    def count(self):
        with self.lock:
            return len(self.acked)


def test_crash_during_delivery_then_lost_cache(make_server):
    """kill -9 during a 2,000-mail 10-session LMTP delivery: every 250'd
    mail is there exactly once after the restart; then flag changes, wait
    past the change-log delay, kill -9, delete the whole cache DIR: all
    mail and all those flags come back from the store."""
    srv = obox_server(make_server)
    user = "u00"
    d = Deliverer(srv, user + "@example.com", 2000)
    d.start()
    deadline = time.time() + 300
    while d.count() < 700 and time.time() < deadline and any(t.is_alive() for t in d.threads):
        time.sleep(0.05)
    assert d.count() >= 700, "only %d acked; replies %r" % (d.count(), d.other[:5])
    kill9_and_restart(srv)
    d.join()
    acked = {mid for mid, _c, _t in d.acked}
    assert not [o for o in d.other if o[1] // 100 == 5], d.other[:5]

    mids = message_ids(srv, user)
    dups = sorted({m for m in mids if mids.count(m) > 1})
    assert not dups, "%d messages twice, e.g. %r" % (len(dups), dups[:5])
    missing = sorted(acked - set(mids))
    assert not missing, "%d acknowledged mails lost of %d, e.g. %r" % (len(missing), len(acked), missing[:5])

    # flag changes older than the change-log delay survive losing DIR
    with srv.raw(login=user) as r:
        r.ok("SELECT INBOX")
        r.ok("STORE 1:100 +FLAGS.SILENT (\\Flagged)")
        r.ok("STORE 50:150 +FLAGS.SILENT (\\Seen $Label1)")
        r.ok("STORE 2 -FLAGS.SILENT (\\Flagged)")
    want = flags_by_mid(srv, user)
    time.sleep(LOG_DELAY * 4)
    kill9_and_restart(srv, wipe_cache=True)
    got = flags_by_mid(srv, user)
    assert acked <= set(got), "lost with the cache: %r" % sorted(acked - set(got))[:5]
    wrong = [(m, want[m], got.get(m)) for m in want
             if {f for f in want[m] if f != "\\Recent"} != {f for f in got.get(m, set()) if f != "\\Recent"}]
    assert not wrong, "%d flag sets differ after losing the cache, e.g. %r" % (len(wrong), wrong[:5])
    mids = message_ids(srv, user)
    assert len(mids) == len(set(mids)), "duplicates after the rebuild"


# --- outage -----------------------------------------------------------------

def outage_setup(make_server, tmp_path_factory):
    """A server whose store can be taken down and brought back: faulty's
    ctl file over file:/rados, radosgw itself over s3."""
    base = omtest.make_tempdir()
    ctl = os.path.join(base, "store-ctl")
    with open(ctl, "w") as f:
        f.write("ok\n")
    srv = obox_server(make_server, start=False, base=base)
    srv.own_base = True
    if STORAGE == "obox-s3":
        ceph = os.environ.get("CEPH_DEV_DIR")
        assert ceph, "CEPH_DEV_DIR is not set: the s3 outage test stops radosgw of scripts/ceph-dev"

        def down():
            subprocess.run([os.path.join(omtest.REPO, "scripts", "ceph-dev"), "stop-rgw", ceph],
                           check=True, capture_output=True, timeout=60)

        def up():
            subprocess.run([os.path.join(omtest.REPO, "scripts", "ceph-dev"), "start-rgw", ceph],
                           check=True, capture_output=True, timeout=120)
    else:
        srv.conf["objstore"] = "faulty:rate=0,ctl=%s:%s" % (ctl, srv.conf["objstore"])

        def down():
            with open(ctl, "w") as f:
                f.write("fail\n")
            time.sleep(0.3)  # faulty re-reads ctl at most every 100 ms

        def up():
            with open(ctl, "w") as f:
                f.write("ok\n")
            time.sleep(0.3)
    srv.start()
    return srv, down, up


def test_outage_temporary_failures_then_carry_on(make_server, tmp_path_factory):
    srv, down, up = outage_setup(make_server, tmp_path_factory)
    user = "u01"
    _mid, msg = message(0, "outage")
    assert srv.deliver(user + "@example.com", msg)[0][0] == 250
    # a message whose body is not in the fscache: delivered and then the
    # cache emptied by a restart with the cache wiped
    srv.stop(check=True)
    shutil.rmtree(os.path.join(cache_dir(srv), "fscache"), ignore_errors=True)
    srv.start()
    lmtp = srv.lmtp()
    lmtp.lhlo()
    r = srv.raw(login=user)
    r.ok("SELECT INBOX")
    try:
        down()
        _mid, msg = message(1, "outage")
        code, text = lmtp.send("s@example.com", [user + "@example.com"], msg)[0]
        assert code == 451 and "4.3.0" in text, (code, text)
        _u, tagged = r.append("INBOX", msg, check=False)
        assert tagged.split()[1] == b"NO" and b"[UNAVAILABLE]" in tagged, tagged
        _u, tagged = r.cmd("FETCH 1 (BODY.PEEK[])")
        assert tagged.split()[1] == b"NO" and b"[UNAVAILABLE]" in tagged, tagged
        # what is local goes on
        r.ok("STORE 1 +FLAGS (\\Flagged)")
        r.ok("NOOP")
        assert srv.alive()
    finally:
        up()
    # the same connections carry on
    deadline = time.time() + 60
    while True:
        code, text = lmtp.send("s@example.com", [user + "@example.com"], msg)[0]
        if code == 250 or time.time() > deadline:
            break
        time.sleep(1)
    assert code == 250, (code, text)
    untagged, _ = r.ok("FETCH 1 (BODY.PEEK[])")
    assert b"body 0" in b"".join(untagged)
    r.append("INBOX", message(2, "outage")[1])
    r.ok("NOOP")
    r.close()
    lmtp.close()
    assert sorted(message_ids(srv, user)) == sorted(message(i, "outage")[0] for i in range(3))
    srv.stop(check=True)


# --- two backends -------------------------------------------------------------

def test_two_backends_hand_over(make_server):
    a = obox_server(make_server)
    b = obox_server(make_server, start=False)
    b.conf["objstore"] = a.conf["objstore"]
    b.start()
    user = "u02"
    rcpt = user + "@example.com"
    for i in range(5):
        assert a.deliver(rcpt, message(i, "ho")[1])[0][0] == 250
    ra = a.raw(login=user)
    ra.ok("SELECT INBOX")
    ra.ok("STORE 1:2 +FLAGS (\\Seen \\Flagged)")
    ra.ok("STORE 3 +FLAGS ($Forwarded)")
    # A holds the user: B answers temporary failures
    code, text = b.deliver(rcpt, message(99, "ho")[1])[0]
    assert code == 451 and "4.3.0" in text, (code, text)
    rb = b.raw()
    _u, tagged = rb.cmd('LOGIN %s "pw-%s"' % (user, user))
    if tagged.split()[1] == b"OK":
        _u, tagged = rb.cmd("SELECT INBOX")
    assert tagged.split()[1] == b"NO" and b"UNAVAILABLE" in tagged, tagged
    rb.close()
    # A releases: logout, flush, and the user closes after its grace period
    ra.cmd("LOGOUT")
    ra.close()
    assert a.objmail("flush", user).returncode == 0
    deadline = time.time() + 30
    while True:
        code, text = b.deliver(rcpt, message(5, "ho")[1])[0]
        if code == 250 or time.time() > deadline:
            break
        time.sleep(0.5)
    assert code == 250, "B never got the user after A released it: %s %s" % (code, text)
    want = {message(i, "ho")[0] for i in range(6)}
    got = flags_by_mid(b, user)
    assert set(got) == want, sorted(set(got) ^ want)
    assert {"\\Seen", "\\Flagged"} <= got[message(0, "ho")[0]]
    assert {"\\Seen", "\\Flagged"} <= got[message(1, "ho")[0]]
    assert "$Forwarded" in got[message(2, "ho")[0]]
    # B holds it now: A gets the temporary failure; then B stops (SIGTERM
    # flushes and releases) and A serves everything B did
    with b.raw(login=user) as r:
        r.ok("SELECT INBOX")
        r.ok("STORE 4 +FLAGS (\\Answered)")
        code, text = a.deliver(rcpt, message(98, "ho")[1])[0]
        assert code == 451 and "4.3.0" in text, (code, text)
    b.stop(check=True)
    got = flags_by_mid(a, user)
    assert set(got) == want, sorted(set(got) ^ want)
    assert "\\Answered" in got[message(3, "ho")[0]]


# --- COPY shares objects; EXPUNGE deletes them after a bundle -----------------

def test_copy_adds_no_objects_expunge_deletes(make_server):
    srv = obox_server(make_server)
    user = "u03"
    spec = srv.conf["objstore"]
    n = 1000
    with srv.lmtp() as c:
        for i in range(n):
            assert c.send("s@example.com", [user + "@example.com"], message(i, "cp")[1])[0][0] == 250
    assert obox_store.count_messages(spec, user) == n
    with srv.raw(login=user) as r:
        r.ok("CREATE Copies")
        r.ok("CREATE Copies2")
        r.ok("SELECT INBOX")
        r.ok("COPY 1:* Copies")
        r.ok("COPY 1:* Copies2")
        assert srv.objmail("flush", user).returncode == 0
        assert obox_store.count_messages(spec, user) == n, "COPY added objects"
        r.ok("STORE 1:* +FLAGS.SILENT (\\Deleted)")
        r.ok("EXPUNGE")
        r.ok("SELECT Copies")
        r.ok("STORE 1:* +FLAGS.SILENT (\\Deleted)")
        r.ok("EXPUNGE")
        assert obox_store.count_messages(spec, user) == n, "deleted before a bundle while Copies2 has them"
        r.ok("DELETE Copies2")
    left = None
    for _ in range(10):
        res = srv.objmail("flush", user)
        assert res.returncode == 0, res.stderr
        left = obox_store.count_messages(spec, user)
        if left == 0:
            break
        time.sleep(0.5)
    assert left == 0, "%d objects left after expunging every copy and flushing" % left


# --- fscache bound --------------------------------------------------------------

def du(path):
    total = 0
    for d, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(d, f)).st_size
            except FileNotFoundError:
                pass
    return total


def test_fscache_bound_during_50mb_fetch(make_server):
    size = 5 << 20
    srv = obox_server(make_server, conf={"fscache_size": "5M"})
    user = "u04"
    body = b"".join(b"%07d abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n" % i
                    for i in range((2 << 20) // 76))
    count = 26  # ~2 MB each: 52 MB
    with srv.lmtp() as c:
        for i in range(count):
            msg = b"Subject: big %d\r\nMessage-ID: <big%d@x>\r\n\r\n" % (i, i) + body
            assert c.send("s@example.com", [user + "@example.com"], msg)[0][0] == 250
    obj = len(body) + 100
    fsdir = os.path.join(cache_dir(srv), "fscache")
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], du(fsdir))
            time.sleep(0.01)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    try:
        got = 0
        with srv.raw(login=user) as r:
            r.ok("SELECT INBOX")
            untagged, _ = r.ok("FETCH 1:* (BODY.PEEK[])")
            for u in untagged:
                got += len(u)
    finally:
        stop.set()
        th.join()
    assert got >= count * len(body), got
    assert peak[0] > 0
    # the bound: SIZE plus one object (doc/objstore.md), plus small entry headers
    assert peak[0] <= size + obj + 64 * 1024, "fscache reached %d bytes (bound %d + one object %d)" % (
        peak[0], size, obj)
