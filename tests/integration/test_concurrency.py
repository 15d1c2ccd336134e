"""Concurrent sessions of one user and deliveries racing with them: every
session's view of sequence numbers stays consistent with what the server
told it (RFC 3501 7.4.1), all views converge, nothing acknowledged is lost,
and SIGTERM under load exits 0 without losing an acknowledged delivery."""

import random
import re
import signal
import threading
import time

import messages
import omtest
from omtest import fetch_map, status_of


class View:
    """A client's model of the selected mailbox: UIDs by sequence number."""

    def __init__(self, uids):
        self.uids = list(uids)
        self.errors = []

    def apply(self, untagged):
        for u in untagged:
            m = re.match(rb"\* (\d+) (EXISTS|EXPUNGE|FETCH)", u)
            if not m:
                continue
            n, what = int(m.group(1)), m.group(2)
            if what == b"EXISTS":
                if n < len(self.uids):
                    self.errors.append("EXISTS %d shrank the view of %d" % (n, len(self.uids)))
                self.uids += [None] * (n - len(self.uids))
            elif what == b"EXPUNGE":
                if not 1 <= n <= len(self.uids):
                    self.errors.append("EXPUNGE %d with %d messages" % (n, len(self.uids)))
                else:
                    del self.uids[n - 1]
            else:
                fm = fetch_map([u])
                uid = fm.get(n, {}).get(b"UID")
                if n > len(self.uids):
                    self.errors.append("FETCH %d past the view of %d" % (n, len(self.uids)))
                elif uid is not None:
                    uid = int(uid)
                    if self.uids[n - 1] is None:
                        self.uids[n - 1] = uid
                    elif self.uids[n - 1] != uid:
                        self.errors.append("seq %d is UID %d, was UID %d"
                                           % (n, uid, self.uids[n - 1]))


def worker(srv, user, seed, stop, done, results):
    rnd = random.Random(seed)
    r = srv.raw(login=user)
    u, t = r.ok("SELECT INBOX")
    n = [int(x.split()[1]) for x in u if x.endswith(b" EXISTS")][0]
    view = View([None] * n)
    if n:
        view.apply(r.ok("FETCH 1:* (UID)")[0])
    ops = 0
    try:
        while not stop.is_set():
            op = rnd.random()
            if op < 0.25:
                u, t = r.append("INBOX", messages.simple("w%d op%d" % (seed, ops)), None, check=False)
            elif op < 0.5 and view.uids:
                seq = rnd.randint(1, len(view.uids))
                u, t = r.cmd("STORE %d +FLAGS (%s)" % (seq, rnd.choice(["\\Seen", "\\Flagged", "$K%d" % seed])))
            elif op < 0.6 and view.uids:
                seq = rnd.randint(1, len(view.uids))
                u, t = r.cmd("STORE %d +FLAGS.SILENT (\\Deleted)" % seq)
            elif op < 0.7:
                u, t = r.cmd("EXPUNGE")
            elif op < 0.8:
                u, t = r.cmd("UID EXPUNGE 1:*") if rnd.random() < 0.3 else r.cmd("NOOP")
            elif op < 0.9 and view.uids:
                u, t = r.cmd("FETCH 1:* (UID FLAGS)")
            else:
                u, t = r.cmd("SEARCH ALL")
            view.apply(u)
            if status_of(t) not in ("OK", "NO"):
                view.errors.append("unexpected %r" % t)
            ops += 1
        done.wait(60)  # nobody changes the mailbox any more
        u, t = r.ok("NOOP")
        view.apply(u)
        view.apply(r.ok("FETCH 1:* (UID)")[0] if view.uids else [])
    finally:
        r.close()
    results[seed] = (view, ops)


def test_sessions_stay_consistent(make_server):
    srv = make_server()
    user = srv.take_user()
    stop = threading.Event()
    results = {}
    done = threading.Barrier(4)
    threads = [threading.Thread(target=worker, args=(srv, user, s, stop, done, results),
                                daemon=True) for s in range(4)]
    for th in threads:
        th.start()
    delivered = 0
    t_end = time.time() + 6
    while time.time() < t_end:
        if srv.deliver(user + "@example.com", messages.simple("lmtp %d" % delivered))[0][0] == 250:
            delivered += 1
        time.sleep(0.05)
    stop.set()
    for th in threads:
        th.join(60)
    assert len(results) == 4, "a worker died: %r" % results.keys()
    errors = {s: v.errors for s, (v, _ops) in results.items() if v.errors}
    assert not errors, errors
    # all views converge to the server's truth
    with srv.raw(login=user) as r:
        r.ok("EXAMINE INBOX")
        truth = sorted(int(v[b"UID"]) for v in fetch_map(r.ok("FETCH 1:* (UID)")[0]).values()) \
            if srv.count_files(user) else []
    for s, (v, ops) in results.items():
        assert v.uids == truth, "worker %d (%d ops) ended with %r, server has %r" % (
            s, ops, v.uids[:20], truth[:20])
    assert len(truth) == len(set(truth))
    assert srv.count_files(user) == len(truth)
    assert delivered > 10


def test_sigterm_under_load_loses_nothing(make_server):
    srv = make_server()
    users = [srv.take_user() for _ in range(4)]
    acked = {u: [] for u in users}
    stop = threading.Event()

    def deliverer(user):
        i = 0
        try:
            c = srv.lmtp()
            c.lhlo()
            while not stop.is_set():
                mid = "<%s-%d@sigterm.test>" % (user, i)
                msg = messages.crlf("Subject: %d\nMessage-ID: %s\n\nbody\n" % (i, mid))
                res = c.send("s@example.com", [user + "@example.com"], msg)
                if res[0][0] == 250:
                    acked[user].append(mid)
                i += 1
        except (OSError, EOFError, omtest.LmtpError):
            pass  # the server went away mid-transaction: that one was not acked

    threads = [threading.Thread(target=deliverer, args=(u,)) for u in users]
    for th in threads:
        th.start()
    time.sleep(1.5)
    t0 = time.time()
    srv.proc.send_signal(signal.SIGTERM)
    try:
        rc = srv.proc.wait(15)
    except Exception:
        rc = None
    stop.set()
    for th in threads:
        th.join(30)
    took = time.time() - t0
    assert rc == 0, "objmaild exited %r after SIGTERM under load; stderr:\n%s" % (
        rc, omtest.log_excerpt(srv.read_log()))
    assert took < 12, took
    srv.stop(check=True)  # sanitizer check of the stopped process
    srv.start()
    for u in users:
        with srv.raw(login=u) as r:
            r.ok("EXAMINE INBOX")
            fm = fetch_map(r.ok("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")[0]) \
                if acked[u] else {}
            got = set()
            for v in fm.values():
                for k, x in v.items():
                    if k.startswith(b"BODY["):
                        got.add(bytes(x).decode().split(":", 1)[1].strip())
        missing = [m for m in acked[u] if m not in got]
        assert not missing, "%d acknowledged deliveries lost for %s: %r" % (len(missing), u, missing[:5])
    assert sum(len(v) for v in acked.values()) > 10
