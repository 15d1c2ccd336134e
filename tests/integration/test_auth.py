"""Password schemes of the passwd-file (hashes made by Dovecot's doveadm),
and the delay after a failed login that must not hold up other clients."""

import base64
import subprocess
import threading
import time

import pytest

import omtest
from omtest import status_of

SCHEMES = ["SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "MD5-CRYPT", "CRYPT", "PLAIN"]


def doveadm_hash(scheme, password):
    r = subprocess.run(["doveadm", "pw", "-s", scheme, "-p", password], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.fixture(scope="module")
def hashed():
    omtest.need("doveadm")
    users = {}
    for s in SCHEMES:
        name = "h-" + s.lower()
        pw = "Pw%s-ä!" % s
        users[name] = (pw, "", doveadm_hash(s, pw))
    srv = omtest.Objmaild(users=users)
    try:
        srv.start()
    except Exception:
        srv.cleanup()
        raise
    yield srv
    try:
        srv.stop(check=True)
    finally:
        srv.cleanup()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_scheme_login(hashed, scheme):
    name = "h-" + scheme.lower()
    pw = hashed.password(name)
    with hashed.raw() as r:
        lit = pw.encode()
        u, t = r.cmd(b"LOGIN " + name.encode() + b" {%d}\r\n" % len(lit) + lit)
        assert status_of(t) == "OK", (scheme, hashed.users[name][2], t)
    with hashed.raw() as r:
        ir = base64.b64encode(b"\0" + name.encode() + b"\0" + pw.encode()).decode()
        u, t = r.cmd("AUTHENTICATE PLAIN " + ir)
        assert status_of(t) == "OK", t
    with hashed.raw() as r:
        u, t = r.cmd(b"LOGIN " + name.encode() + b" \"wrong\"")
        assert status_of(t) == "NO", t
    assert hashed.deliver(name + "@example.com", "Subject: x\n\nx\n")[0][0] == 250


def test_failed_login_delay_does_not_block_others(make_server):
    srv = make_server(conf={"auth_failure_delay": "2s", "worker_threads": "2"})
    good = srv.take_user()
    results = {}

    def bad_login(i):
        with srv.raw() as r:
            t0 = time.time()
            u, t = r.cmd('LOGIN %s "wrong"' % srv.take_user())
            results[i] = (status_of(t), time.time() - t0)

    threads = [threading.Thread(target=bad_login, args=(i,)) for i in range(6)]
    t0 = time.time()
    for th in threads:
        th.start()
    time.sleep(0.3)
    # while six failed logins wait out their delay, a good login is quick
    with srv.raw() as r:
        t1 = time.time()
        r.login(good, srv.password(good))
        quick = time.time() - t1
    for th in threads:
        th.join(30)
    total = time.time() - t0
    assert all(st == "NO" for st, _ in results.values()), results
    assert all(d >= 1.8 for _, d in results.values()), results  # the delay happened
    assert quick < 1.5, "a good login waited %.1fs behind failed ones" % quick
    assert total < 6, "failed-login delays ran one after another (%.1fs)" % total
