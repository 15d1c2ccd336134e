"""QUOTA (RFC 9208): GETQUOTAROOT/GETQUOTA/SETQUOTA, STORAGE and MESSAGE
limits from the config and the passdb, enforced at APPEND (MULTIAPPEND all
or nothing), COPY and LMTP (552 5.2.2), exact under concurrent deliveries;
MOVE inside the user is allowed at the limit; `objmail quota get|recalc`
(live through the admin socket on every storage, offline on maildir)."""

import json
import os
import re
import threading

import pytest

import messages
import omtest
from omtest import status_of, untagged_named

pytestmark = pytest.mark.skipif(omtest.server_class() is not omtest.Objmaild,
                                reason="objmail-specific expectations")


def quota_line(untagged):
    q = untagged_named(untagged, "QUOTA")
    assert len(q) == 1, untagged
    m = re.match(rb'\* QUOTA "User quota" \((.*)\)$', q[0])
    assert m, q[0]
    return m.group(1).decode()


@pytest.fixture(scope="module")
def srv():
    s = omtest.Objmaild(conf={"quota_messages": "4"},
                        users={"plain": "pw",
                               "stor": ("pw", "userdb_quota_rule=*:storage=2K"),
                               "msgs": ("pw", "quota_messages=3"),
                               "both": ("pw", "quota_rule=*:storage=100K:messages=5"),
                               "lmtp": ("pw", "quota_messages=5"),
                               "move": ("pw", "quota_messages=2")},
                        pool=0)
    # the CLI tests go live through the admin socket
    s.conf["listen_admin"] = "unix:" + os.path.join(s.base, "admin.sock")
    s.start()
    yield s
    s.stop(check=True)
    s.cleanup()


def test_getquotaroot_and_getquota(srv):
    r = srv.raw(login="both")
    msg = messages.simple("x")
    r.append("INBOX", msg)
    u, t = r.ok("GETQUOTAROOT INBOX")
    assert untagged_named(u, "QUOTAROOT")[0] == b'* QUOTAROOT "INBOX" "User quota"'
    assert quota_line(u) == "STORAGE %d 100 MESSAGE 1 5" % ((len(msg) + 1023) // 1024)
    u, _ = r.ok('GETQUOTA "User quota"')
    assert quota_line(u).endswith("MESSAGE 1 5")
    _, t = r.cmd('GETQUOTA "other"')
    assert status_of(t) == "NO"
    _, t = r.cmd('SETQUOTA "User quota" (STORAGE 10)')
    assert status_of(t) == "NO"
    _, t = r.cmd("GETQUOTAROOT Nope")
    assert status_of(t) == "NO"
    r.close()
    # config default for the message count; no storage limit
    r = srv.raw(login="plain")
    u, _ = r.ok("GETQUOTAROOT INBOX")
    assert quota_line(u) == "MESSAGE 0 4"
    r.close()


def test_append_and_copy_at_the_limit(srv):
    r = srv.raw(login="msgs")
    for i in range(3):
        r.append("INBOX", messages.simple("m%d" % i))
    _, t = r.append("INBOX", messages.simple("over"), check=False)
    assert status_of(t) == "NO" and b"[OVERQUOTA]" in t
    r.ok("SELECT INBOX")
    r.ok("STORE 1 +FLAGS (\\Deleted)")
    r.ok("EXPUNGE")
    r.append("INBOX", messages.simple("fits again"))
    _, t = r.cmd("COPY 1 Trash")
    assert status_of(t) == "NO" and b"[OVERQUOTA]" in t
    u, _ = r.ok("STATUS Trash (MESSAGES)")
    assert u[-1].endswith(b"(MESSAGES 0)")
    r.close()


def test_storage_limit_and_multiappend_rollback(srv):
    r = srv.raw(login="stor")
    small = messages.simple("s", body="a" * 500 + "\n")
    r.append("INBOX", small)
    big = messages.simple("b", body="b" * 1500 + "\n")
    _, t = r.append("INBOX", big, check=False)
    assert status_of(t) == "NO" and b"[OVERQUOTA]" in t
    # two fit, the third doesn't: none of the three stays
    _, t = r.cmd(b"APPEND INBOX {%d}\r\n" % len(small) + small +
                 b" {%d}\r\n" % len(small) + small + b" {%d}\r\n" % len(big) + big)
    assert status_of(t) == "NO" and b"[OVERQUOTA]" in t
    u, _ = r.ok("STATUS INBOX (MESSAGES)")
    assert u[-1].endswith(b"(MESSAGES 1)")
    r.close()


def test_move_inside_the_user_at_the_limit(srv):
    r = srv.raw(login="move")
    r.append("INBOX", messages.simple("a"))
    r.append("INBOX", messages.simple("b"))
    r.ok("SELECT INBOX")
    r.ok("MOVE 1 Trash")
    u, _ = r.ok("STATUS Trash (MESSAGES)")
    assert u[-1].endswith(b"(MESSAGES 1)")
    r.close()


def test_lmtp_limit_exact_under_concurrency(srv):
    results = []
    lock = threading.Lock()

    def one(i):
        res = srv.deliver("lmtp@example.com", messages.simple("c%d" % i))
        with lock:
            results.append(res[0][0])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(250) == 5, results
    assert all(c in (250, 552) for c in results), results
    with srv.raw(login="lmtp") as r:
        u, _ = r.ok("EXAMINE INBOX")
        assert b"* 5 EXISTS" in u, u
    res = srv.deliver("lmtp@example.com", messages.simple("late"))
    assert res[0][0] == 552 and "5.2.2" in res[0][1]


def test_cli_get_and_recalc(srv):
    p = srv.objmail("quota", "get", "both", "--json")
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    assert j["messages_limit"] == 5 and j["storage_limit"] == 100 * 1024
    assert j["messages_used"] >= 1
    p = srv.objmail("quota", "get", "nobody")
    assert p.returncode == 1


def test_cli_live_on_every_storage(srv):
    """quota get|recalc live: the daemon answers for the user its sessions
    have open (on obox it holds the user's lease, so an offline open would
    fail), the same numbers as GETQUOTA."""
    with srv.raw(login="both") as r:
        r.append("INBOX", messages.simple("live"))
        r.ok("SELECT INBOX")
        u, _ = r.ok("GETQUOTAROOT INBOX")
        m = re.match(r"STORAGE (\d+) 100 MESSAGE (\d+) 5$", quota_line(u))
        assert m, quota_line(u)
        for op in ("get", "recalc"):
            p = srv.objmail("quota", op, "both", "--json")
            assert p.returncode == 0, p.stderr
            j = json.loads(p.stdout)
            assert j["user"] == "both" and j["messages_used"] == int(m.group(2))
            assert (j["storage_used"] + 1023) // 1024 == int(m.group(1))
            assert j["messages_limit"] == 5 and j["storage_limit"] == 100 * 1024
        p = srv.objmail("quota", "recalc", "both")
        assert p.returncode == 0 and b"messages: %d, limit 5" % int(m.group(2)) in p.stdout
        p = srv.objmail("quota", "get", "nobody")
        assert p.returncode == 1 and b"nobody" in p.stderr


def test_cli_recalc_offline(make_server):
    s = make_server(users={"rc": ("pw", "quota_messages=10")}, pool=0)
    s.deliver("rc@example.com", messages.simple("one"))
    s.deliver("rc@example.com", messages.simple("two"))
    s.stop(check=True)
    # a message put into the Maildir by hand, unknown to the index
    new = os.path.join(s.maildir("rc"), "new")
    with open(os.path.join(new, "1700000000.M1P1.hand"), "wb") as f:
        f.write(messages.simple("by hand"))
    p = s.objmail("quota", "recalc", "rc")
    assert p.returncode == 0, p.stderr
    assert b"messages: 3, limit 10" in p.stdout, p.stdout
    p = s.objmail("quota", "get", "rc", "--json")
    assert json.loads(p.stdout)["messages_used"] == 3
