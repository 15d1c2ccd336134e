"""Several sessions of one user: untagged EXISTS/EXPUNGE/FETCH updates only
where RFC 3501 7.4.1 allows, IDLE (RFC 2177) woken by APPEND and LMTP."""

import socket
import time

import pytest

import messages
from omtest import apply_expunges, fetch_map, search_result, status_of


@pytest.fixture
def pair(server):
    user = server.take_user()
    a = server.raw(login=user)
    for i in range(4):
        a.append("INBOX", messages.simple("multi %d" % (i + 1)))
    a.ok("SELECT INBOX")
    b = server.raw(login=user)
    b.ok("SELECT INBOX")
    yield user, a, b
    a.close()
    b.close()


def exists_of(untagged):
    return [int(x.split()[1]) for x in untagged if x.endswith(b" EXISTS")]


def expunges(untagged):
    return [x for x in untagged if x.endswith(b" EXPUNGE")]


def test_append_seen_by_other_at_noop(pair):
    user, a, b = pair
    a.append("INBOX", messages.simple("new one"))
    u, t = b.ok("NOOP")
    assert exists_of(u) == [5], u
    fm = fetch_map(b.ok("FETCH 5 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[0])
    assert int(fm[5][b"UID"]) == 5


def test_recent_only_in_one_session(pair):
    user, a, b = pair
    a.append("Trash", messages.simple("recent test"))
    a.ok("SELECT Trash")
    u, t = b.ok("EXAMINE Trash")
    assert b"* 0 RECENT" in u, u
    fm = fetch_map(a.ok("FETCH 1 FLAGS")[0])
    assert b"\\Recent" in fm[1][b"FLAGS"], fm


def test_flag_change_seen_by_other_at_noop(pair):
    user, a, b = pair
    a.ok("STORE 2 +FLAGS.SILENT (\\Flagged $Shared)")
    u, t = b.ok("NOOP")
    fm = fetch_map(u)
    assert 2 in fm, "no untagged FETCH FLAGS for the other session's change: %r" % u
    flags = {bytes(x) for x in fm[2][b"FLAGS"]}
    assert {b"\\Flagged", b"$Shared"} <= flags, fm


def test_expunge_not_sent_during_fetch_store_search(pair):
    user, a, b = pair
    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    u, t = a.ok("EXPUNGE")
    assert apply_expunges([1, 2, 3, 4], u) == [1, 3, 4]
    # b still sees 4 messages: FETCH, STORE and SEARCH must not send EXPUNGE
    u, t = b.cmd("FETCH 1:4 (UID)")
    assert not expunges(u), "EXPUNGE sent during FETCH: %r" % u
    assert status_of(t) in ("OK", "NO"), t
    seen_uids = {int(v[b"UID"]) for v in fetch_map(u).values()}
    assert {1, 3, 4} <= seen_uids, u
    u, t = b.cmd("STORE 3 +FLAGS (\\Seen)")
    assert not expunges(u), "EXPUNGE sent during STORE: %r" % u
    fm = fetch_map(u)
    if 3 in fm and b"UID" in fm[3]:
        assert fm[3][b"UID"] == b"3"
    u, t = b.cmd("SEARCH ALL")
    assert not expunges(u), "EXPUNGE sent during SEARCH: %r" % u
    assert status_of(t) == "OK", t
    assert max(search_result(u)) <= 4
    # EXISTS never shrinks without an EXPUNGE
    assert all(n >= 4 for n in exists_of(u)), u
    # NOOP delivers it, and then numbers agree
    u, t = b.ok("NOOP")
    assert apply_expunges([1, 2, 3, 4], u) == [1, 3, 4], u
    fm = fetch_map(b.ok("FETCH 1:* (UID FLAGS)")[0])
    assert {k: int(v[b"UID"]) for k, v in fm.items()} == {1: 1, 2: 3, 3: 4}, fm
    assert b"\\Seen" in fm[2][b"FLAGS"], fm  # the STORE on old seq 3 = UID 3


def test_uid_fetch_may_carry_expunge(pair):
    user, a, b = pair
    a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    u, t = b.ok("UID FETCH 1:* (UID)")  # EXPUNGE allowed here (RFC 3501 7.4.1)
    if expunges(u):
        assert apply_expunges([1, 2, 3, 4], u) == [2, 3, 4], u
    u, t = b.ok("NOOP")
    u2, t = b.ok("FETCH 1:* (UID)")
    uids = sorted(int(v[b"UID"]) for v in fetch_map(u2).values())
    assert uids == [2, 3, 4], u2


def test_expunge_and_append_both_reported(pair):
    user, a, b = pair
    a.ok("STORE 4 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    a.append("INBOX", messages.simple("after expunge"))
    u, t = b.ok("NOOP")
    uids = apply_expunges([1, 2, 3, 4], u)
    assert uids == [1, 2, 3], u
    assert exists_of(u) and exists_of(u)[-1] == 4, u


def test_check_reports_updates(pair):
    user, a, b = pair
    a.append("INBOX", messages.simple("check"))
    u, t = b.ok("CHECK")
    # CHECK may or may not report; the next NOOP must
    if not exists_of(u):
        u, t = b.ok("NOOP")
    assert exists_of(u) == [5], u


def test_selected_mailbox_deleted_by_other(server):
    user = server.take_user()
    a = server.raw(login=user)
    b = server.raw(login=user)
    try:
        a.ok("CREATE Doomed")
        a.append("Doomed", messages.MINIMAL)
        b.ok("SELECT Doomed")
        a.ok("DELETE Doomed")
        u, t = b.cmd("NOOP")
        # BYE, an error, or OK: never a crash; the server keeps serving
        assert t == b"" or status_of(t) in ("OK", "NO", "BAD"), t
    except EOFError:
        pass
    finally:
        a.close()
        b.close()
    with server.raw(login=user) as c:
        c.ok("NOOP")


# --- IDLE ----------------------------------------------------------------------------

def start_idle(r):
    tag = r.tag()
    r.send(tag + " IDLE\r\n")
    cont = r.read_response()
    assert cont.startswith(b"+"), cont
    return tag


def read_until(r, pred, timeout):
    """Read untagged responses until pred(list) or timeout; returns list."""
    got = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        r.sock.settimeout(max(0.05, deadline - time.time()))
        try:
            got.append(r.read_response())
        except (socket.timeout, TimeoutError):
            break
        if pred(got):
            break
    r.sock.settimeout(30)
    return got


def stop_idle(r, tag):
    r.send("DONE\r\n")
    u, t = r.collect(tag)
    assert status_of(t) == "OK", t
    return u


def test_idle_woken_by_append(pair):
    user, a, b = pair
    tag = start_idle(b)
    t0 = time.time()
    a.append("INBOX", messages.simple("wake up"))
    got = read_until(b, lambda g: exists_of(g), 2.0)
    dt = time.time() - t0
    assert exists_of(got) == [5], "IDLE not woken within 2 s by an APPEND (got %r)" % got
    assert dt < 2.0
    stop_idle(b, tag)


def test_idle_woken_by_lmtp(server, pair):
    user, a, b = pair
    tag = start_idle(b)
    res = server.deliver(user + "@example.com", messages.simple("via lmtp"))
    assert res[0][0] == 250, res
    got = read_until(b, lambda g: exists_of(g), 2.0)
    assert exists_of(got) == [5], "IDLE not woken within 2 s by LMTP (got %r)" % got
    stop_idle(b, tag)


def test_idle_sees_flags_and_expunge(pair):
    user, a, b = pair
    tag = start_idle(b)
    a.ok("STORE 1 +FLAGS.SILENT (\\Answered)")
    got = read_until(b, lambda g: any(b"FETCH" in x for x in g), 2.0)
    assert any(b"FETCH" in x and b"\\Answered" in x for x in got), got
    a.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    got = read_until(b, lambda g: expunges(g), 2.0)
    rest = stop_idle(b, tag)
    assert apply_expunges([1, 2, 3, 4], got + rest) == [1, 2, 4], (got, rest)


def test_idle_other_mailbox_not_reported(pair):
    user, a, b = pair
    tag = start_idle(b)
    a.append("Sent", messages.simple("elsewhere"))
    got = read_until(b, lambda g: True, 1.0)
    assert not exists_of(got), got
    stop_idle(b, tag)


def test_idle_done_without_changes(pair):
    user, a, b = pair
    tag = start_idle(b)
    u = stop_idle(b, tag)
    assert not expunges(u)
    b.ok("NOOP")


def test_idle_bad_continuation(pair):
    user, a, b = pair
    tag = start_idle(b)
    b.send("NOTDONE\r\n")
    u, t = b.collect(tag)
    assert status_of(t) in ("BAD", "OK"), t
    b.ok("NOOP")


def test_idle_many_sessions(server):
    """Ten IDLE sessions of one user are all woken by one delivery."""
    user = server.take_user()
    sessions = []
    try:
        for _ in range(10):
            r = server.raw(login=user)
            r.ok("SELECT INBOX")
            sessions.append((r, start_idle(r)))
        server.deliver(user + "@example.com", messages.simple("to all"))
        for r, tag in sessions:
            got = read_until(r, lambda g: exists_of(g), 3.0)
            assert exists_of(got) == [1], got
            stop_idle(r, tag)
    finally:
        for r, _ in sessions:
            r.close()
