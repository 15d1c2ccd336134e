"""The director's relay and backend login (issue 5, doc/director.md):
the splice(2) relay for clients without TLS (byte-exact big FETCH, many
parallel pipelined sessions, backend death and client half-close mid-stream,
no descriptor leak), per-protocol health probes (IMAP and LMTP), and logins
to the backend as a master user.

One real backend (the run's storage) behind one director configured with
director_backends; fake backends (Python) where a test needs a backend that
misbehaves on cue."""

import base64
import concurrent.futures
import hashlib
import os
import re
import socket
import threading
import time

import pytest

import omtest
from omtest import hrw_score

N_USERS = 40
MASTER = "dmaster"
MASTER_PW = "master-secret"


def users():
    return {"p%02d" % i: "pw-p%02d" % i for i in range(N_USERS)}


def metrics(d):
    port = int(d.read_log().split("listening metrics 127.0.0.1:")[1].split()[0])
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    body = b""
    while True:
        x = s.recv(65536)
        if not x:
            break
        body += x
    s.close()
    out = {}
    for line in body.decode().split("\r\n\r\n", 1)[-1].splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def wait_for(pred, timeout=10, what="condition"):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        assert time.time() < deadline, "timed out waiting for %s" % what
        time.sleep(0.05)


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def fds_without_pipes(d):
    """The director's descriptors less its pooled pipes (2 each): what must
    come back to its baseline after relays end."""
    return nfds(d.proc.pid) - 2 * int(metrics(d)["objmail_director_splice_pipes"])


def login(d, user):
    r = omtest.RawImap(d.ports["imap"])
    r.login(user, "pw-" + user)
    return r


def parallel(fn, items, workers=16):
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        return list(ex.map(fn, items))


@pytest.fixture(scope="module")
def env():
    us = users()
    # the backend knows the master user (passwd-file extra field master=yes);
    # the directors authenticate users themselves
    bus = dict(us)
    bus[MASTER] = (MASTER_PW, "master=yes")
    b = omtest.Objmaild(users=bus, pool=0)
    b.start()
    spec = "127.0.0.1:%d/%d" % (b.ports["imap"], b.ports["lmtp"])
    # two loop threads: two pipe pools (8 idle pipes each at most)
    d = omtest.Objmaild(storage="maildir", users=us, pool=0, tls=True, conf={
        "role": "director", "mail_location": "", "director_backends": spec,
        "director_probe_interval": "1s", "listen_metrics": "127.0.0.1:0", "io_threads": "2"})
    d.start()
    # the same, logging in to the backend as the master user
    m = omtest.Objmaild(storage="maildir", users=us, pool=0, conf={
        "role": "director", "mail_location": "", "director_backends": spec,
        "director_probe_interval": "1s", "listen_metrics": "127.0.0.1:0",
        "director_master_user": MASTER, "director_master_password": MASTER_PW})
    m.start()
    # a wrong master password
    w = omtest.Objmaild(storage="maildir", users=us, pool=0, listeners=("imap",), conf={
        "role": "director", "mail_location": "", "director_backends": spec,
        "director_probe_interval": "1s",
        "director_master_user": MASTER, "director_master_password": "wrong"})
    w.start()
    try:
        yield b, d, m, w
    finally:
        errors = []
        for s in (w, m, d, b):
            try:
                s.stop()
            except AssertionError as e:
                errors.append(str(e))
        for s in (w, m, d, b):
            s.cleanup()
        assert not errors, "\n".join(errors)


def literal_of(resp):
    m = re.search(rb"\{(\d+)\}\r\n", resp)
    n = int(m.group(1))
    lit = resp[m.end():m.end() + n]
    assert len(lit) == n and resp[m.end() + n:] == b")", (n, len(lit), resp[m.end() + n:][:50])
    return lit


def spliced(d):
    return metrics(d).get("objmail_director_splice_relays", 0)


# --- the splice relay ------------------------------------------------------


def test_plain_session_is_spliced_tls_is_not(env):
    b, d, m, w = env
    base = spliced(d)
    with login(d, "p00") as r:
        r.ok("SELECT INBOX")
        wait_for(lambda: spliced(d) >= base + 1, what="the switch to splice")
        r.ok("NOOP")
    wait_for(lambda: spliced(d) == base, what="the relay to end")
    ctx = omtest.client_context(d.cert)
    im = d.imap()
    im.starttls(ssl_context=ctx)
    im.login("p01", "pw-p01")
    assert im.select("INBOX")[0] == "OK"
    time.sleep(0.3)
    assert spliced(d) == base  # TLS keeps the evbuffer relay
    im.logout()


def test_fetch_32mb_byte_identical(env):
    b, d, m, w = env
    user = "p02"
    line = bytes(range(32, 127)) * 10 + b"\r\n"
    body = bytearray(b"Subject: big\r\nFrom: a@example.com\r\n\r\n")
    i = 0
    while len(body) < 32 * 1024 * 1024:
        body += b"%08d " % i + line
        i += 1
    body = bytes(body)
    with omtest.RawImap(b.ports["imap"]) as r:  # straight to the backend: faster
        r.login(user, "pw-" + user)
        r.append("INBOX", body)
    with login(d, user) as r:
        r.ok("EXAMINE INBOX")
        wait_for(lambda: spliced(d) >= 1, what="the switch to splice")
        for _ in range(2):
            un, tagged = r.ok("FETCH 1 BODY.PEEK[]")
            assert len(un) == 1, len(un)
            lit = literal_of(un[0])
            assert len(lit) == len(body)
            assert hashlib.sha256(lit).digest() == hashlib.sha256(body).digest()
        # and the other way: the same bytes up through the splice relay
        r.ok("SELECT INBOX")
        r.append("INBOX", body)
        un, _ = r.ok("FETCH 2 BODY.PEEK[]")
        lit = literal_of(un[0])
        assert hashlib.sha256(lit).digest() == hashlib.sha256(body).digest()
        r.ok("STORE 1:2 +FLAGS.SILENT (\\Deleted)")
        r.ok("EXPUNGE")


def pipelined_session(args):
    d, user, rounds = args
    r = login(d, user)
    try:
        r.ok("SELECT INBOX")
        for k in range(rounds):
            # one write with many commands; the answers come back in order
            msg = b"Subject: pipe %d\r\n\r\nbody %s %d\r\n" % (k, user.encode(), k)
            batch = b"".join([b"A%d NOOP\r\n" % k,
                              b"B%d APPEND INBOX {%d+}\r\n%s\r\n" % (k, len(msg), msg),
                              b"C%d UID SEARCH ALL\r\n" % k,
                              b"D%d FETCH 1:* (FLAGS)\r\n" % k,
                              b"E%d NOOP\r\n" % k])
            r.send(batch)
            for t in (b"A", b"B", b"C", b"D", b"E"):
                tag = t + b"%d" % k
                un, tagged = r.collect(tag.decode())
                assert tagged.startswith(tag + b" OK"), (user, tagged)
                if t == b"C":
                    uids = un[-1].split()[2:]
                    assert len(uids) >= k + 1, (user, un)
        un, _ = r.ok("SEARCH ALL")
        return len(un[-1].split()) - 2
    finally:
        r.close()


def test_parallel_pipelined_sessions(env):
    b, d, m, w = env
    us = ["p%02d" % i for i in range(5, 35)]
    counts = parallel(pipelined_session, [(d, u, 8) for u in us], workers=30)
    assert counts == [8] * len(us)


def big_both_ways(args):
    d, user, body = args
    with login(d, user) as r:
        r.ok("SELECT INBOX")
        r.append("INBOX", body)
        un, _ = r.ok("FETCH 1:* (BODY.PEEK[])")
        lits = [literal_of(x) for x in un if b"BODY[]" in x]
        return [hashlib.sha256(x).hexdigest() for x in lits]


def test_many_parallel_transfers(env):
    """More relays moving bytes at once than the pools keep pipes: every
    byte arrives; afterwards the idle pipes are back within the pools'
    bound."""
    b, d, m, w = env
    us = ["p%02d" % i for i in range(23, 39)]
    bodies = {u: b"Subject: par %s\r\n\r\n%s\r\n" % (u.encode(),
                                                        os.urandom(1536 * 1024).hex().encode())
              for u in us}
    hashes = parallel(big_both_ways, [(d, u, bodies[u]) for u in us], workers=16)
    for u, hs in zip(us, hashes):
        assert hashlib.sha256(bodies[u]).hexdigest() in hs, u
    wait_for(lambda: spliced(d) == 0, what="relays to end")
    assert metrics(d)["objmail_director_splice_pipes"] <= 16


class FakeBackend:
    """An IMAP server that takes any AUTHENTICATE PLAIN and then, on
    "FETCH", streams `stream` bytes of a literal and hangs up halfway (or
    resets). Everything else gets a tagged OK."""

    def __init__(self, stream=8 * 1024 * 1024, reset=False):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stream = stream
        self.reset = reset
        self.stop = False
        self.conns = []
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        self.conns.append(c)
        try:
            c.sendall(b"* OK fake ready\r\n")
            f = c.makefile("rb")
            while True:
                line = f.readline()
                if not line:
                    return
                tag, rest = line.split(b" ", 1)
                if rest.upper().startswith(b"FETCH"):
                    c.sendall(b"* 1 FETCH (BODY[] {%d}\r\n" % (self.stream * 2))
                    chunk = b"z" * 65536
                    sent = 0
                    while sent < self.stream:
                        c.sendall(chunk)
                        sent += len(chunk)
                    if self.reset:
                        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    c.close()
                    return
                if rest.upper().startswith(b"LOGOUT"):
                    c.sendall(b"* BYE bye\r\n%s OK done\r\n" % tag)
                    c.close()
                    return
                c.sendall(b"%s OK done\r\n" % tag)
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.t.join(5)
        self.sock.close()


def fake_director(fake, extra=None):
    conf = {"role": "director", "mail_location": "",
            "director_backends": "127.0.0.1:%d/%d" % (fake.port, omtest.free_port()),
            "director_probe_interval": "1s", "listen_metrics": "127.0.0.1:0"}
    conf.update(extra or {})
    d = omtest.Objmaild(storage="maildir", users=users(), pool=0, listeners=("imap",), conf=conf)
    d.start()
    return d


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
def test_backend_dies_mid_stream(reset):
    fake = FakeBackend(reset=reset)
    d = fake_director(fake)
    try:
        with login(d, "p00"):
            pass
        time.sleep(0.3)
        base = fds_without_pipes(d)
        for rnd in range(3):
            r = login(d, "p%02d" % rnd)
            wait_for(lambda: spliced(d) >= 1, what="the switch to splice")
            r.send(b"F FETCH 1 BODY[]\r\n")
            got = 0
            r.sock.settimeout(10)
            try:
                while True:
                    x = r.sock.recv(1 << 20)
                    if not x:
                        break
                    got += len(x)
            except ConnectionResetError:
                pass
            r.close()
            if not reset:
                # everything the backend sent before it died reached the client
                assert got >= fake.stream, got
        # the director is fine, and holds no more descriptors than before
        with login(d, "p10") as r:
            r.ok("NOOP")
        wait_for(lambda: spliced(d) == 0, what="relays to end")
        wait_for(lambda: fds_without_pipes(d) <= base, what="fds back to baseline (%d)" % base)
        mt = metrics(d)
        assert mt["objmail_director_splice_pipes"] <= 16, mt
        d.assert_alive()
    finally:
        d.stop()
        d.cleanup()
        fake.close()


def test_client_leaves_mid_stream():
    """The client asks for a big literal, reads a bit and goes: the relay
    ends, the backend connection is closed, nothing leaks. (A fake backend
    that streams until its write fails: objmaild backends have their own
    test of clients that leave.)"""
    fake = FakeBackend(stream=64 * 1024 * 1024)
    d = fake_director(fake)
    try:
        with login(d, "p00"):
            pass
        time.sleep(0.3)
        base = fds_without_pipes(d)
        for i in range(5):
            r = login(d, "p%02d" % i)
            wait_for(lambda: spliced(d) >= 1, what="the switch to splice")
            r.send(b"F FETCH 1 BODY[]\r\n")
            r.sock.recv(1000)
            r.sock.close()
        wait_for(lambda: spliced(d) == 0, what="relays to end")
        wait_for(lambda: fds_without_pipes(d) <= base, what="fds back to baseline (%d)" % base)
        assert metrics(d)["objmail_director_splice_pipes"] <= 16
        with login(d, "p10") as r:
            r.ok("NOOP")
        d.assert_alive()
    finally:
        d.stop()
        d.cleanup()
        fake.close()


def test_client_half_close(env):
    """The client sends its last commands and shuts its side: the backend
    answers them, then everything closes."""
    b, d, m, w = env
    user = "p03"
    time.sleep(0.3)
    base = fds_without_pipes(d)
    for _ in range(3):
        r = login(d, user)
        wait_for(lambda: spliced(d) >= 1, what="the switch to splice")
        r.send(b"N NOOP\r\nS SELECT INBOX\r\nL LOGOUT\r\n")
        r.sock.shutdown(socket.SHUT_WR)
        data = b""
        r.sock.settimeout(10)
        while True:
            x = r.sock.recv(65536)
            if not x:
                break
            data += x
        r.close()
        assert b"N OK" in data and b"S OK" in data and b"* BYE" in data and b"L OK" in data, data
    wait_for(lambda: spliced(d) == 0, what="relays to end")
    wait_for(lambda: fds_without_pipes(d) <= base, what="fds back to baseline (%d)" % base)
    assert metrics(d)["objmail_director_splice_pipes"] <= 16
    with login(d, user) as r:
        r.ok("NOOP")


# --- health per protocol -----------------------------------------------------


def test_lmtp_health_is_its_own(env):
    """A backend whose LMTP side is dead gets no recipients (they go to the
    next backend, 250, no 451) but keeps its IMAP logins; its LMTP side
    comes back by the next good probe. /metrics and status show both."""
    import json
    b, _, _, _ = env
    imap = omtest.Greeter(b"* OK fake imap\r\n")
    lmtp_port = omtest.free_port()
    live = "127.0.0.1:%d" % b.ports["imap"]
    half = "127.0.0.1:%d" % imap.port
    spec = "%s/%d, %s/%d" % (live, b.ports["lmtp"], half, lmtp_port)
    d = omtest.Objmaild(storage="maildir", users=users(), pool=0, conf={
        "role": "director", "mail_location": "", "director_backends": spec,
        "director_probe_interval": "1s", "listen_metrics": "127.0.0.1:0"})
    d.conf["listen_admin"] = "unix:" + os.path.join(d.base, "admin.sock")
    lmtp = None
    try:
        d.start()

        def status():
            r = d.objmail("director", "status", "--json")
            assert r.returncode == 0, r.stderr
            return {x["id"]: x for x in json.loads(r.stdout)}

        wait_for(lambda: status()[half]["lmtp_health"] == "down", what="the LMTP probe to fail")
        st = status()
        assert st[half]["health"] == "up" and st[live]["lmtp_health"] == "up", st
        mt = metrics(d)
        assert mt['objmail_director_backend_lmtp_healthy{backend="%s"}' % half] == 0, mt
        assert mt['objmail_director_backend_healthy{backend="%s"}' % half] == 1, mt
        assert mt['objmail_director_backend_lmtp_healthy{backend="%s"}' % live] == 1, mt
        on_half = [u for u in sorted(users())
                   if max((live, half), key=lambda i: hrw_score(u, i)) == half][:3]
        assert on_half
        with d.lmtp() as c:
            res = c.send("s@example.com", on_half, "Subject: rerouted\r\n\r\nx\r\n")
        assert all(code == 250 for code, _ in res), res
        for u in on_half:  # on the live backend
            with omtest.RawImap(b.ports["imap"]) as r:
                r.login(u, "pw-" + u)
                r.ok("SELECT INBOX")
                un, _ = r.ok("SEARCH SUBJECT rerouted")
                assert len(un[-1].split()) > 2, (u, un)
        # IMAP logins still go to the half-dead backend (the fake hangs up:
        # the client gets UNAVAILABLE, from the backend it was routed to)
        with omtest.RawImap(d.ports["imap"]) as r:
            un, tagged = r.cmd("LOGIN %s pw-%s" % (on_half[0], on_half[0]))
            assert b"UNAVAILABLE" in tagged, tagged
        assert "failed for %s" % on_half[0] in d.read_log() and half in d.read_log()
        # its LMTP side comes back
        lmtp = omtest.Greeter(b"220 fake LMTP\r\n", port=lmtp_port)
        wait_for(lambda: status()[half]["lmtp_health"] == "up", what="the LMTP probe to pass")
        assert metrics(d)['objmail_director_backend_lmtp_healthy{backend="%s"}' % half] == 1
    finally:
        d.stop()
        d.cleanup()
        imap.close()
        if lmtp:
            lmtp.close()


# --- logging in to the backend as a master user ------------------------------


def plain_ir(authz, authc, pw):
    return base64.b64encode(b"%s\0%s\0%s" % (authz.encode(), authc.encode(),
                                              pw.encode())).decode()


def test_backend_master_user(env):
    """The backend side: SASL PLAIN with an authorization id logs a master
    user (passdb extra field master=yes) in as that user; nobody else may act
    as another user, and the master account is no mailbox of its own."""
    b, d, m, w = env
    with omtest.RawImap(b.ports["imap"]) as r:
        un, tagged = r.cmd("AUTHENTICATE PLAIN " + plain_ir("p20", MASTER, MASTER_PW))
        assert tagged.startswith(b"T001 OK"), tagged
        r.ok("SELECT INBOX")
        r.append("INBOX", b"Subject: via master\r\n\r\nx\r\n")
    with omtest.RawImap(b.ports["imap"]) as r:
        r.login("p20", "pw-p20")
        r.ok("SELECT INBOX")
        un, _ = r.ok("SEARCH SUBJECT \"via master\"")
        assert len(un[-1].split()) == 3, un  # the user's own mailbox
    assert "master user %s logs in as p20" % MASTER in b.read_log()
    bad = [
        plain_ir("p20", MASTER, "wrong"),        # wrong master password
        plain_ir("p20", "p21", "pw-p21"),        # not a master user
        plain_ir("nosuchuser", MASTER, MASTER_PW),
        plain_ir(MASTER, MASTER, MASTER_PW),     # the master account itself
        plain_ir("", MASTER, MASTER_PW),
    ]
    for ir in bad:
        with omtest.RawImap(b.ports["imap"]) as r:
            un, tagged = r.cmd("AUTHENTICATE PLAIN " + ir)
            assert tagged.startswith(b"T001 NO ["), (ir, tagged)
            r.ok("NOOP")  # a clean failure: the connection goes on
    with omtest.RawImap(b.ports["imap"]) as r:
        un, tagged = r.cmd("LOGIN %s %s" % (MASTER, MASTER_PW))
        assert tagged.startswith(b"T001 NO [AUTHENTICATIONFAILED]"), tagged


def test_director_logs_in_as_master_user(env):
    b, d, m, w = env
    user = "p21"
    subject = "master-%d" % int(time.time() * 1000)
    with login(m, user) as r:
        r.ok("SELECT INBOX")
        r.append("INBOX", ("Subject: %s\r\n\r\nx\r\n" % subject).encode())
        un, _ = r.ok("SEARCH SUBJECT %s" % subject)
        assert len(un[-1].split()) == 3, un
    # it is the user's session at the backend: the mail is in their INBOX
    with omtest.RawImap(b.ports["imap"]) as r:
        r.login(user, "pw-" + user)
        r.ok("SELECT INBOX")
        un, _ = r.ok("SEARCH SUBJECT %s" % subject)
        assert len(un[-1].split()) == 3, un
    log = b.read_log()
    assert "master user %s logs in as %s" % (MASTER, user) in log, log[-2000:]
    # the director checked the user's password itself
    with omtest.RawImap(m.ports["imap"]) as r:
        un, tagged = r.cmd("LOGIN %s wrong" % user)
        assert tagged.startswith(b"T001 NO [AUTHENTICATIONFAILED]"), tagged
        r.ok("LOGIN %s pw-%s" % (user, user))
        r.ok("SELECT INBOX")
    # AUTHENTICATE PLAIN at the director, too
    with omtest.RawImap(m.ports["imap"]) as r:
        un, tagged = r.cmd("AUTHENTICATE PLAIN " + plain_ir("", user, "pw-" + user))
        assert tagged.startswith(b"T001 OK"), tagged
        r.ok("SELECT INBOX")


def test_director_wrong_master_password(env):
    """A director with a wrong master password: the user's password is good,
    the backend refuses the master login. The client gets a clean NO
    [UNAVAILABLE] and may go on; the backend is not marked down; the director
    logs what to fix."""
    b, d, m, w = env
    user = "p22"
    for _ in range(2):
        with omtest.RawImap(w.ports["imap"]) as r:
            un, tagged = r.cmd("LOGIN %s pw-%s" % (user, user))
            assert tagged.startswith(b"T001 NO [UNAVAILABLE]"), tagged
            r.ok("NOOP")
            r.ok("CAPABILITY")
    log = w.read_log()
    assert "refused master user %s for %s" % (MASTER, user) in log, log[-2000:]
    assert "DOWN" not in log, log[-2000:]
    assert "authentication failed for master user %s" % MASTER in b.read_log()


def test_master_user_needs_local_auth():
    d = omtest.Objmaild(storage="maildir", users=users(), pool=0, listeners=("imap",), conf={
        "role": "director", "mail_location": "", "director_auth": "passthrough",
        "director_backends": "127.0.0.1:1/2",
        "director_master_user": MASTER, "director_master_password": MASTER_PW})
    try:
        with pytest.raises(RuntimeError) as e:
            d.start(timeout=10)
        assert "director_master_user needs director_auth = local" in str(e.value)
    finally:
        d.kill()
        d.cleanup()


def sockets_of(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def test_backend_session_ends_when_client_leaves_mid_fetch(env):
    """A client leaves in the middle of a big FETCH through the director:
    the director closes its backend connection, and the backend's session
    must end too (no socket left behind at the backend)."""
    b, d, m, w = env
    user = "p04"
    body = b"Subject: leave\r\n\r\n" + b"l" * 8 * 1024 * 1024 + b"\r\n"
    with omtest.RawImap(b.ports["imap"]) as r:
        r.login(user, "pw-" + user)
        r.append("INBOX", body)
    time.sleep(0.5)
    base = sockets_of(b.proc.pid)
    for _ in range(4):
        r = login(d, user)
        r.ok("EXAMINE INBOX")
        time.sleep(0.2)
        r.send(b"F FETCH 1 BODY.PEEK[]\r\n")
        r.sock.recv(1000)
        r.sock.close()
    wait_for(lambda: sockets_of(b.proc.pid) <= base, timeout=10,
             what="the backend's sessions to end (sockets %d)" % base)


def test_director_shutdown_says_bye_to_spliced_sessions():
    fake = FakeBackend()
    d = fake_director(fake)
    try:
        rs = [login(d, "p%02d" % i) for i in range(3)]
        wait_for(lambda: spliced(d) >= 3, what="the switch to splice")
        d.stop()
        for r in rs:
            r.sock.settimeout(10)
            data = b""
            while True:
                x = r.sock.recv(65536)
                if not x:
                    break
                data += x
            assert data == b"* BYE Server shutting down.\r\n", data
            r.close()
    finally:
        if d.alive():
            d.stop()
        d.cleanup()
        fake.close()
