"""The admin socket, /metrics and the live/offline admin commands of
objmail (doc/admin.md)."""

import json
import os
import re
import signal
import socket
import time

import pytest

import omtest

pytestmark = pytest.mark.skipif(omtest.server_class() is not omtest.Objmaild,
                                reason="objmaild's own admin interface")


def admin_server(**kw):
    srv = omtest.Objmaild(**kw)
    srv.conf["listen_admin"] = "unix:" + os.path.join(srv.base, "admin.sock")
    srv.conf["listen_metrics"] = "127.0.0.1:0"
    return srv


def started(srv):
    srv.start()
    deadline = time.time() + 10
    while "metrics" not in srv.ports:
        m = re.search(r"listening metrics (\S+)", srv.read_log())
        if m:
            srv.ports["metrics"] = int(m.group(1).rsplit(":", 1)[1])
            break
        assert time.time() < deadline, srv.read_log()
        time.sleep(0.05)
    return srv


@pytest.fixture(scope="module")
def asrv():
    srv = admin_server()
    try:
        started(srv)
    except Exception:
        srv.cleanup()
        raise
    yield srv
    try:
        srv.stop(check=True)
    finally:
        srv.cleanup()


def http(srv, request, limit=1 << 22):
    with socket.create_connection(("127.0.0.1", srv.ports["metrics"]), timeout=30) as s:
        s.sendall(request)
        data = b""
        while len(data) < limit:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
    return status, headers, body


def metrics(srv):
    status, headers, body = http(srv, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    assert int(headers["content-length"]) == len(body)
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def admin_raw(srv, payload, want_lines=None):
    """Send raw bytes to the admin socket; read until the peer closes or
    want_lines final lines (OK/ERR) arrived."""
    path = srv.conf["listen_admin"][5:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(path)
        s.sendall(payload)
        data = b""
        while True:
            finals = [ln for ln in data.split(b"\n") if ln == b"OK" or ln.startswith(b"ERR ")]
            if want_lines is not None and len(finals) >= want_lines:
                break
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.decode().splitlines()


# --- /metrics ---

def test_metrics_basics(asrv):
    m = metrics(asrv)
    assert m["objmail_up"] == 1
    assert any(k.startswith("objmail_build_info{") for k in m)
    for proto in ("imap", "lmtp"):
        assert 'objmail_connections{protocol="%s"}' % proto in m
    for r in ("ok", "failed"):
        assert 'objmail_imap_logins_total{result="%s"}' % r in m
    for r in ("ok", "tempfail", "permfail"):
        assert 'objmail_lmtp_deliveries_total{result="%s"}' % r in m


def test_metrics_count_logins_and_deliveries(asrv):
    user = asrv.take_user()
    before = metrics(asrv)
    with asrv.raw(login=user) as r:
        r.ok("SELECT INBOX")
        during = metrics(asrv)
        assert during['objmail_connections{protocol="imap"}'] >= 1
        assert during["objmail_imap_sessions"] >= 1
    with asrv.raw() as r:
        _, tagged = r.cmd('LOGIN %s "wrong password"' % user)
        assert b" NO " in tagged
    res = asrv.deliver(user, b"Subject: metrics\r\n\r\nhello\r\n")
    assert res[0][0] == 250
    res = asrv.deliver(user, b"Subject: metrics\r\n\r\n" + b"x" * 10 + b"\r\n",
                       sender="a@example.com")
    assert res[0][0] == 250
    after = metrics(asrv)
    ok = 'objmail_imap_logins_total{result="ok"}'
    failed = 'objmail_imap_logins_total{result="failed"}'
    assert after[ok] == before[ok] + 1
    assert after[failed] == before[failed] + 1
    dok = 'objmail_lmtp_deliveries_total{result="ok"}'
    assert after[dok] == before[dok] + 2


def test_metrics_permfail():
    srv = admin_server(users={"tiny": ("tiny-pw", "quota=4K")})
    try:
        started(srv)
        res = srv.deliver("tiny", b"Subject: big\r\n\r\n" + b"x" * 5000 + b"\r\n")
        assert res[0][0] == 552, res
        m = metrics(srv)
        assert m['objmail_lmtp_deliveries_total{result="permfail"}'] == 1
        assert m['objmail_lmtp_deliveries_total{result="ok"}'] == 0
    finally:
        srv.stop(check=True)
        srv.cleanup()


def test_metrics_http_errors(asrv):
    status, headers, body = http(asrv, b"GET /other HTTP/1.1\r\n\r\n")
    assert status == 404 and headers["connection"] == "close"
    status, _, _ = http(asrv, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    assert status == 405
    status, _, _ = http(asrv, b"garbage\r\n\r\n")
    assert status == 400
    # an oversized head is refused (the reset: we close with its rest unread)
    try:
        status, _, _ = http(asrv, b"GET /metrics HTTP/1.0\r\nX: " + b"a" * 20000 + b"\r\n\r\n")
        assert status == 431
    except ConnectionResetError:
        pass
    head = b"GET /metrics HTTP/1.0\r\nX: "
    status, _, _ = http(asrv, head + b"a" * (8192 - len(head)))
    assert status == 431
    status, headers, body = http(asrv, b"HEAD /metrics HTTP/1.0\r\n\r\n")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0
    status, _, body = http(asrv, b"GET /metrics?x=1 HTTP/1.0\n\n")
    assert status == 200 and b"objmail_up 1" in body
    # a client that never finishes its request is cut off, not kept forever
    s = socket.create_connection(("127.0.0.1", asrv.ports["metrics"]), timeout=30)
    s.sendall(b"GET /metr")
    s.close()
    asrv.assert_alive()


# --- the admin socket, raw ---

def test_admin_protocol(asrv):
    lines = admin_raw(asrv, b"ping\nnosuch\n\nflush\tx\ty\nquit\n")
    assert lines[0].startswith("+")
    assert lines[1] == "OK"
    assert lines[2].startswith("ERR unknown ")
    assert lines[3].startswith("ERR badrequest ")
    assert lines[4].startswith("ERR usage ")
    assert lines[5] == "OK"
    assert len(lines) == 6  # quit closed the connection
    lines = admin_raw(asrv, b"help\n", want_lines=1)
    assert "+flush [USER]" in lines and lines[-1] == "OK"
    lines = admin_raw(asrv, b"x" * 4096)
    assert lines == ["ERR toolong request line too long"]
    lines = admin_raw(asrv, b"a\tb\tc\td\te\tf\tg\th\ti\n", want_lines=1)
    assert lines[0].startswith("ERR toolong")


def test_admin_tcp_is_loopback_only(make_server):
    srv = make_server(conf={"listen_admin": "127.0.0.1:0"})
    deadline = time.time() + 10
    while not re.search(r"listening admin 127\.0\.0\.1:(\d+)", srv.read_log()):
        assert time.time() < deadline, srv.read_log()
        time.sleep(0.05)
    m = re.search(r"listening admin 127\.0\.0\.1:(\d+)", srv.read_log())
    with socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=10) as s:
        s.sendall(b"ping\n")
        assert s.recv(100).endswith(b"OK\n")


# --- objmail live commands ---

def test_flush(asrv):
    r = asrv.objmail("flush")
    assert r.returncode == 0, r.stderr
    r = asrv.objmail("flush", "alice")
    assert r.returncode == 0, r.stderr
    r = asrv.objmail("flush", "a", "b")
    assert r.returncode == 2


def test_cache_stats(asrv):
    r = asrv.objmail("cache", "stats", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert isinstance(doc["metrics"], list)
    for m in doc["metrics"]:
        assert set(m) == {"name", "labels", "value"}
    r = asrv.objmail("cache", "stats")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()


def test_stats(asrv):
    r = asrv.objmail("stats")
    assert r.returncode == 0, r.stderr
    assert "objmail_up 1" in r.stdout.decode()


def test_who(asrv):
    user = asrv.take_user()
    with asrv.raw(login=user) as r:
        r.ok("SELECT INBOX")
        res = asrv.objmail("who", "--json")
        assert res.returncode == 0, res.stderr
        doc = json.loads(res.stdout)
        mine = [s for s in doc["sessions"] if s["user"] == user]
        assert len(mine) == 1, doc
        assert mine[0]["ip"] == "127.0.0.1"
        assert mine[0]["mailbox"] == "INBOX"
        assert abs(mine[0]["since"] - time.time()) < 120
        r.ok("UNSELECT")
        doc = json.loads(asrv.objmail("who", "--json").stdout)
        assert [s["mailbox"] for s in doc["sessions"] if s["user"] == user] == [None]
        res = asrv.objmail("who")
        assert res.returncode == 0
        assert re.search(r"^%s\s+127\.0\.0\.1\s+-\s" % user, res.stdout.decode(), re.M), res.stdout
    # gone after logout
    deadline = time.time() + 10
    while True:
        doc = json.loads(asrv.objmail("who", "--json").stdout)
        if not [s for s in doc["sessions"] if s["user"] == user]:
            break
        assert time.time() < deadline, doc
        time.sleep(0.1)


def test_kick(asrv):
    user = asrv.take_user()
    with asrv.raw(login=user) as r:
        res = asrv.objmail("kick", user)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout) == {"kicked": 1}
        assert r.read_line().startswith(b"* BYE")
        assert r.closed()


def test_reload(asrv):
    r = asrv.objmail("reload")
    assert r.returncode == 0, r.stderr


def test_lease(asrv):
    r = asrv.objmail("lease", "alice")
    if asrv.storage == "maildir":
        # maildir keeps no leases: a clear answer, not a crash
        assert r.returncode == 1
        assert b"no leases" in r.stderr
    else:
        # obox: alice never logged in, so nobody holds her lease
        assert r.returncode == 0, r.stderr
        lease = json.loads(r.stdout)
        assert lease["user"] == "alice" and lease["held"] is False
    r = asrv.objmail("lease")
    assert r.returncode == 2


def test_force_resync_live_while_running(asrv):
    """force-resync runs in the daemon when it answers (test_live_admin.py
    tests it with sessions open); an unknown user is an error naming it."""
    r = asrv.objmail("force-resync", "alice")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"alice: index rebuilt from the store"), r.stdout
    r = asrv.objmail("force-resync", "nobody")
    assert r.returncode == 1 and b"nobody" in r.stderr, r.stderr


def test_daemon_not_running(make_server):
    srv = make_server(start=False, conf={
        "listen_admin": "unix:" + os.path.join(omtest.make_tempdir(), "admin.sock")})
    srv.write_files()
    for args in (["flush"], ["who", "--json"], ["cache", "stats"], ["stats"]):
        r = srv.objmail(*args)
        assert r.returncode == 1, (args, r)
        assert b"daemon not running" in r.stderr
    srv.conf["listen_admin"] = ""
    srv.write_files()
    r = srv.objmail("flush")
    assert r.returncode == 1 and b"listen_admin is not set" in r.stderr


def test_sigterm_exits_0_with_sessions(make_server):
    srv = admin_server()
    started(srv)
    try:
        r = srv.raw(login="alice")
        r.ok("SELECT INBOX")
        assert srv.deliver("bob", b"Subject: x\r\n\r\ny\r\n")[0][0] == 250
        # an admin client idling on the socket must not block the stop
        idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        idle.connect(srv.conf["listen_admin"][5:])
        os.kill(srv.proc.pid, signal.SIGTERM)
        srv.proc.wait(omtest.STOP_TIMEOUT)
        assert srv.proc.returncode == 0, srv.read_log()
        idle.close()
        r.close()
    finally:
        rc, log = srv.stop(check=True)
        srv.cleanup()
    assert not os.path.exists(srv.conf["listen_admin"][5:])


def test_admin_socket_belongs_to_mail_uid(make_server):
    omtest.need_root()
    import pwd
    import stat
    mail = pwd.getpwnam("mail")
    srv = make_server(start=False, conf={"mail_uid": "mail"},
                      env={"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0"})
    srv.conf["listen_admin"] = "unix:" + os.path.join(srv.base, "admin.sock")
    omtest.chown_tree(srv.mail_root)
    srv.start()
    # the socket is handed over at the privilege drop, after the listeners
    deadline = time.time() + 10
    st = None
    while st is None or (st.st_uid != mail.pw_uid and time.time() < deadline):
        try:
            st = os.stat(srv.conf["listen_admin"][5:])
        except FileNotFoundError:
            assert time.time() < deadline, srv.read_log()
        time.sleep(0.05)
    assert stat.S_ISSOCK(st.st_mode)
    assert st.st_uid == mail.pw_uid and st.st_gid == mail.pw_gid
    assert stat.S_IMODE(st.st_mode) == 0o660
    r = srv.objmail("who", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"sessions": [], "truncated": False}


def test_obox_flush_and_cache_stats():
    """Against obox over file:, flush uploads a bundle and cache stats shows
    the object store's figures."""
    srv = admin_server()
    srv.conf["mail_location"] = "obox:" + os.path.join(srv.base, "cache")
    srv.conf["objstore"] = "file:" + os.path.join(srv.base, "objects")
    try:
        started(srv)
        user = srv.take_user()
        assert srv.deliver(user, b"Subject: obox\r\n\r\nhello\r\n")[0][0] == 250
        with srv.raw(login=user) as r:
            r.ok("SELECT INBOX")
            r.ok("STORE 1 +FLAGS (\\Flagged)")
            res = srv.objmail("flush", user)
            assert res.returncode == 0, res.stderr
            # the user is open here: this backend holds its lease
            res = srv.objmail("lease", user)
            assert res.returncode == 0, res.stderr
            lease = json.loads(res.stdout)
            assert lease["user"] == user and lease["held"] is True
            assert lease["this_backend"] is True and lease["owner"]
            assert lease["key"].endswith("/" + user + "/lease")
            assert lease["expires"] > time.time()
        res = srv.objmail("flush")
        assert res.returncode == 0, res.stderr
        bundles = []
        for root, _dirs, files in os.walk(os.path.join(srv.base, "objects")):
            bundles += [f for f in files if f.startswith("bundle.")]
        assert bundles, "no bundle uploaded"
        res = srv.objmail("cache", "stats", "--json")
        assert res.returncode == 0, res.stderr
        names = {m["name"] for m in json.loads(res.stdout)["metrics"]}
        assert any(n.startswith("objmail_obox_bundle_uploads") for n in names), names
        m = metrics(srv)
        assert m['objmail_lmtp_deliveries_total{result="ok"}'] == 1
        srv.stop(check=True)
        # stopped: the lease was released at shutdown (read offline)
        res = srv.objmail("lease", user)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["held"] is False
    finally:
        srv.stop(check=True)
        srv.cleanup()
