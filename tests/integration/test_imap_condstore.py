"""CONDSTORE and QRESYNC (RFC 7162) over raw IMAP, on maildir and on obox
(over a file: object store): MODSEQ, HIGHESTMODSEQ, FETCH (CHANGEDSINCE),
STORE (UNCHANGEDSINCE) with [MODIFIED], SEARCH MODSEQ, ENABLE QRESYNC,
SELECT (QRESYNC ...) with VANISHED (EARLIER), VANISHED for expunges,
UID FETCH (CHANGEDSINCE .. VANISHED) and [CLOSED]."""

import os
import re

import pytest

import messages
import omtest
from omtest import fetch_map, resp_code, status_of

@pytest.fixture(scope="module", params=["run-storage", "obox-file"])
def srv(request):
    """The run's storage (OBJMAIL_STORAGE, maildir by default) and, besides,
    obox over a file: store."""
    cls = omtest.server_class()
    if request.param == "obox-file":
        if cls is not omtest.Objmaild:
            pytest.skip("obox is objmail's")
        if omtest.STORAGE == "obox-file":
            pytest.skip("the run's storage is obox-file already")
    s = cls(storage=None if request.param == "run-storage" else "obox-file")
    try:
        s.start()
    except Exception:
        s.cleanup()
        raise
    yield s
    try:
        s.stop(check=True)
    finally:
        s.cleanup()


@pytest.fixture
def mbox(srv):
    """A fresh user with 5 messages in INBOX (UIDs 1..5); a logged-in
    connection (nothing selected)."""
    user = srv.take_user()
    r = srv.raw(login=user)
    for i in range(5):
        r.append("INBOX", messages.simple("msg %d" % (i + 1)))
    yield user, r
    r.close()


def modseq_of(v):
    """FETCH MODSEQ value [b"123"] / b"(123)" -> 123."""
    if isinstance(v, list):
        v = v[0]
    return int(bytes(v).strip(b"()"))


def highestmodseq(untagged):
    for u in untagged:
        code = resp_code(u, "HIGHESTMODSEQ")
        if code is not None:
            return int(code)
    return None


def uid_set(text):
    """b"1:3,7" (or str) -> {1, 2, 3, 7}."""
    if isinstance(text, str):
        text = text.encode()
    out = set()
    for part in text.split(b","):
        if b":" in part:
            a, b = part.split(b":")
            a, b = int(a), int(b)
            out.update(range(min(a, b), max(a, b) + 1))
        else:
            out.add(int(part))
    return out


def vanished(untagged, earlier):
    out = set()
    prefix = b"* VANISHED (EARLIER) " if earlier else b"* VANISHED "
    for u in untagged:
        if u.startswith(prefix) and (earlier or not u.startswith(b"* VANISHED (")):
            out |= uid_set(u[len(prefix):])
    return out


def fetch_lines(untagged):
    return [u for u in untagged if re.match(rb"\* \d+ FETCH ", u)]


def test_capabilities(srv):
    with srv.raw(login=srv.take_user()) as r:
        caps = r.ok("CAPABILITY")[0][0].split()
        for c in (b"CONDSTORE", b"QRESYNC", b"ESEARCH", b"SEARCHRES", b"CONTEXT=SEARCH"):
            assert c in caps, caps


def test_enable(srv, mbox):
    _, r = mbox
    u, _ = r.ok("ENABLE CONDSTORE")
    assert u == [b"* ENABLED CONDSTORE"], u
    u, _ = r.ok("ENABLE CONDSTORE QRESYNC X-NONE")
    # objmail lists what this ENABLE turned on; Dovecot all it knows
    want = b"* ENABLED QRESYNC" if srv.kind == "objmail" else b"* ENABLED CONDSTORE QRESYNC"
    assert u == [want], u


def test_select_condstore_and_fetch_modseq(mbox):
    _, r = mbox
    u, t = r.ok("SELECT INBOX")
    assert highestmodseq(u) is None, "HIGHESTMODSEQ before CONDSTORE was enabled: %r" % u
    u, t = r.ok("SELECT INBOX (CONDSTORE)")
    hms = highestmodseq(u)
    assert hms is not None, u
    fm = fetch_map(r.ok("FETCH 1:* (MODSEQ)")[0])
    mods = {k: modseq_of(v[b"MODSEQ"]) for k, v in fm.items()}
    assert len(mods) == 5 and max(mods.values()) <= hms
    # once enabled, flag changes come with MODSEQ
    fm = fetch_map(r.ok("STORE 1 +FLAGS (\\Seen)")[0])
    assert modseq_of(fm[1][b"MODSEQ"]) > hms


def test_fetch_modseq_enables_condstore(mbox):
    """A FETCH MODSEQ is a CONDSTORE-enabling command: HIGHESTMODSEQ comes
    with it (RFC 7162 3.1), and later STOREs report MODSEQ."""
    _, r = mbox
    r.ok("SELECT INBOX")
    u, _ = r.ok("FETCH 1 (MODSEQ)")
    assert highestmodseq(u) is not None, u
    fm = fetch_map(r.ok("STORE 1 +FLAGS (\\Seen)")[0])
    assert b"MODSEQ" in fm[1]


def test_store_bumps_modseq_and_highestmodseq(mbox):
    user, r = mbox
    hms0 = highestmodseq(r.ok("SELECT INBOX (CONDSTORE)")[0])
    fm = fetch_map(r.ok("STORE 2 +FLAGS (\\Flagged)")[0])
    m2 = modseq_of(fm[2][b"MODSEQ"])
    assert m2 > hms0
    # a no-op change does not move it
    u, _ = r.ok("STORE 2 +FLAGS (\\Flagged)")
    assert fetch_lines(u) == [], u
    assert modseq_of(fetch_map(r.ok("FETCH 2 MODSEQ")[0])[2][b"MODSEQ"]) == m2
    hms1 = highestmodseq(r.ok("EXAMINE INBOX")[0])
    assert hms1 == m2
    # an expunge moves HIGHESTMODSEQ too
    r.ok("SELECT INBOX")
    r.ok("STORE 5 +FLAGS.SILENT (\\Deleted)")
    hms2 = highestmodseq(r.ok("EXAMINE INBOX")[0])
    r.ok("SELECT INBOX")
    r.ok("EXPUNGE")
    hms3 = highestmodseq(r.ok("EXAMINE INBOX")[0])
    assert hms3 > hms2 > hms1


def test_fetch_changedsince(srv, mbox):
    """RFC 7162 3.1.4.2 example: only messages changed after the modseq,
    with MODSEQ."""
    _, r = mbox
    hms = highestmodseq(r.ok("SELECT INBOX (CONDSTORE)")[0])
    r.ok("STORE 2,4 +FLAGS (\\Answered)")
    u, _ = r.ok("FETCH 1:* (UID FLAGS) (CHANGEDSINCE %d)" % hms)
    fm = fetch_map(u)
    assert sorted(fm) == [2, 4], u
    for v in fm.values():
        assert modseq_of(v[b"MODSEQ"]) > hms
    u, _ = r.ok("UID FETCH 1:* FLAGS (CHANGEDSINCE %d)" % (hms + 100))
    assert fetch_lines(u) == [], u
    # VANISHED only with UID FETCH and QRESYNC
    _, t = r.cmd("UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)")
    assert status_of(t) == "BAD", t
    if srv.kind == "objmail":  # mod-sequence-value is positive; Dovecot allows 0
        _, t = r.cmd("FETCH 1:* FLAGS (CHANGEDSINCE 0)")
        assert status_of(t) == "BAD", t


def test_store_unchangedsince_conflict(srv, mbox):
    """RFC 7162 3.1.3 examples: a message changed by another session after
    the client's modseq fails with [MODIFIED]; the rest are stored."""
    user, r = mbox
    r.ok("SELECT INBOX (CONDSTORE)")
    fm = fetch_map(r.ok("FETCH 1:5 MODSEQ")[0])
    mods = {k: modseq_of(v[b"MODSEQ"]) for k, v in fm.items()}
    base = max(mods.values())
    with srv.raw(login=user) as other:
        other.ok("SELECT INBOX")
        other.ok("STORE 3 +FLAGS (\\Flagged)")
    u, t = r.ok("STORE 1:5 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)" % base)
    assert resp_code(t, "MODIFIED") == "3", t
    fm = fetch_map(u)
    for seq in (1, 2, 4, 5):
        assert b"\\Seen" in fm[seq][b"FLAGS"], u
        assert modseq_of(fm[seq][b"MODSEQ"]) > base
    flags = fetch_map(r.ok("FETCH 3 FLAGS")[0])[3][b"FLAGS"]
    assert b"\\Seen" not in flags and b"\\Flagged" in flags, flags
    # UID STORE names UIDs; .SILENT still reports MODSEQ (example 7)
    base = modseq_of(fetch_map(r.ok("FETCH 2 MODSEQ")[0])[2][b"MODSEQ"])
    r.ok("STORE 1 -FLAGS.SILENT (\\Seen)")  # UID 1 moves past `base`
    with srv.raw(login=user) as other:
        other.ok("SELECT INBOX")
        other.ok("STORE 3 +FLAGS (\\Answered)")  # and UID 3
    u, t = r.ok("UID STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\\Deleted)" % base)
    assert uid_set(resp_code(t, "MODIFIED")) == {1, 3}, t
    fm = fetch_map(u)
    # 2 was stored; 3 comes as the other session's change (FLAGS)
    assert sorted(fm) == [2, 3], u
    assert b"\\Answered" in fm[3][b"FLAGS"], u
    assert b"FLAGS" not in fm[2] and b"MODSEQ" in fm[2] and b"UID" in fm[2], u
    # UNCHANGEDSINCE 0 always fails
    u, t = r.ok("STORE 4 (UNCHANGEDSINCE 0) +FLAGS (\\Draft)")
    assert resp_code(t, "MODIFIED") == "4", t
    assert fetch_lines(u) == [], u
    _, t = r.cmd("STORE 4 (UNCHANGEDSINCE x) +FLAGS (\\Draft)")
    assert status_of(t) == "BAD", t


def test_store_unchangedsince_enables_condstore(mbox):
    _, r = mbox
    r.ok("SELECT INBOX")
    u, t = r.ok("STORE 1 (UNCHANGEDSINCE 1000) +FLAGS (\\Seen)")
    assert highestmodseq(u) is not None, u
    assert b"MODSEQ" in fetch_map(u)[1]


def test_search_modseq(srv, mbox):
    """RFC 7162 3.1.5: SEARCH MODSEQ, with and without the entry, answers
    (MODSEQ highest-of-matches); it is a CONDSTORE-enabling command."""
    user, r = mbox
    with srv.raw(login=user) as other:
        other.ok("SELECT INBOX")
        u, _ = other.ok("SEARCH MODSEQ 1")
        assert highestmodseq(u) is not None, u
    r.ok("SELECT INBOX (CONDSTORE)")
    r.ok("STORE 2,3 +FLAGS (\\Flagged)")
    m = modseq_of(fetch_map(r.ok("FETCH 2 MODSEQ")[0])[2][b"MODSEQ"])
    u, _ = r.ok("SEARCH MODSEQ %d" % m)
    assert u == [b"* SEARCH 2 3 (MODSEQ %d)" % m], u
    u, _ = r.ok('SEARCH MODSEQ "/flags/\\\\flagged" all %d' % m)
    assert u == [b"* SEARCH 2 3 (MODSEQ %d)" % m], u
    u, _ = r.ok("UID SEARCH MODSEQ %d" % (m + 1000))
    assert u == [b"* SEARCH"], u
    u, t = r.ok("SEARCH RETURN (COUNT) MODSEQ %d" % m)
    assert u == [b'* ESEARCH (TAG "%s") COUNT 2 MODSEQ %d' % (t.split()[0], m)], u


def test_qresync_select_after_changes_elsewhere(srv, mbox):
    """RFC 7162 3.2.5: a client reconnecting with SELECT (QRESYNC (uidvalidity
    modseq)) learns the UIDs expunged and the flags changed by another
    session since then, and nothing older."""
    user, r = mbox
    r.ok("ENABLE QRESYNC")
    u, _ = r.ok("SELECT INBOX")
    hms = highestmodseq(u)
    uidvalidity = int(resp_code([x for x in u if b"UIDVALIDITY" in x][0], "UIDVALIDITY"))
    r.ok("STORE 1 +FLAGS (\\Deleted)")
    r.ok("EXPUNGE")  # UID 1 goes before the client's modseq
    hms = highestmodseq(r.ok("EXAMINE INBOX")[0])
    r.ok("UNSELECT")
    with srv.raw(login=user) as other:
        other.ok("SELECT INBOX")
        other.ok("UID STORE 2,4 +FLAGS (\\Deleted)")
        other.ok("UID EXPUNGE 2,4")
        other.ok("UID STORE 3 +FLAGS ($Work)")
        other.append("INBOX", messages.simple("new one"))
    u, t = r.ok("SELECT INBOX (QRESYNC (%d %d))" % (uidvalidity, hms))
    assert vanished(u, earlier=True) == {2, 4}, u
    fm = fetch_map(u)
    by_uid = {int(v[b"UID"]): v for v in fm.values()}
    assert set(by_uid) == {3, 6}, u  # the changed one and the new one
    assert b"$Work" in by_uid[3][b"FLAGS"]
    assert all(b"MODSEQ" in v for v in by_uid.values())
    assert highestmodseq(u) > hms
    assert b"* 3 EXISTS" in u

    # known-uids limits VANISHED; a wrong UIDVALIDITY means a plain SELECT
    u, _ = r.ok("SELECT INBOX (QRESYNC (%d %d 3:5))" % (uidvalidity, hms))
    assert b"* OK [CLOSED] Previous mailbox closed." in u[0:1], u
    assert vanished(u, earlier=True) == {4}, u
    u, _ = r.ok("SELECT INBOX (QRESYNC (%d %d 1:10 (1:3 3,5,6)))" % (uidvalidity, 1))
    assert vanished(u, earlier=True) == {1, 2, 4}, u
    u, _ = r.ok("EXAMINE INBOX (QRESYNC (%d %d))" % (uidvalidity + 1, 1))
    assert vanished(u, earlier=True) == set() and fetch_lines(u) == [], u
    _, t = r.cmd("SELECT INBOX (QRESYNC (%d))" % uidvalidity)
    assert status_of(t) == "BAD", t


def test_qresync_needs_enable(mbox):
    _, r = mbox
    _, t = r.cmd("SELECT INBOX (QRESYNC (1 1))")
    assert status_of(t) == "BAD", t


def test_qresync_vanished_replaces_expunge(srv, mbox):
    """Once QRESYNC is on, expunges are "* VANISHED uids" (RFC 7162 3.2.10),
    ours and another session's, and flag updates carry UID and MODSEQ."""
    user, r = mbox
    r.ok("ENABLE QRESYNC")
    r.ok("SELECT INBOX")
    r.ok("STORE 1,2 +FLAGS.SILENT (\\Deleted)")
    u, t = r.ok("EXPUNGE")
    assert not any(b"EXPUNGE" in x for x in u), u
    assert vanished(u, earlier=False) == {1, 2}, u
    # RFC 7162 3.2.7: the tagged OK tells the new HIGHESTMODSEQ
    st = r.ok("STATUS INBOX (HIGHESTMODSEQ)")[0][0]
    assert resp_code(t, "HIGHESTMODSEQ") == re.search(rb"HIGHESTMODSEQ (\d+)", st).group(1).decode(), (t, st)
    with srv.raw(login=user) as other:
        other.ok("SELECT INBOX")
        other.ok("UID STORE 5 +FLAGS (\\Deleted)")
        other.ok("UID EXPUNGE 5")
        other.ok("UID STORE 3 +FLAGS (\\Flagged)")
    u, _ = r.ok("NOOP")
    assert vanished(u, earlier=False) == {5}, u
    fl = fetch_lines(u)
    assert len(fl) == 1 and b"UID 3" in fl[0] and b"MODSEQ (" in fl[0], u


def test_uid_fetch_vanished(srv, mbox):
    """RFC 7162 3.2.6: UID FETCH (CHANGEDSINCE m VANISHED)."""
    user, r = mbox
    r.ok("ENABLE QRESYNC")
    hms = highestmodseq(r.ok("SELECT INBOX")[0])
    with srv.raw(login=user) as other:
        other.ok("SELECT INBOX")
        other.ok("UID STORE 2,3 +FLAGS (\\Deleted)")
        other.ok("UID EXPUNGE 2,3")
        other.ok("UID STORE 4 +FLAGS (\\Answered)")
    r.ok("NOOP")  # our view learns of it
    u, _ = r.ok("UID FETCH 1:* FLAGS (CHANGEDSINCE %d VANISHED)" % hms)
    assert vanished(u, earlier=True) == {2, 3}, u
    fm = fetch_map(u)
    assert len(fm) == 1 and b"\\Answered" in list(fm.values())[0][b"FLAGS"], u
    u, _ = r.ok("UID FETCH 3:4 FLAGS (CHANGEDSINCE %d VANISHED)" % hms)
    assert vanished(u, earlier=True) == {3}, u


def test_closed_on_reselect(mbox):
    _, r = mbox
    r.ok("ENABLE QRESYNC")
    u, _ = r.ok("SELECT INBOX")
    assert not any(b"[CLOSED]" in x for x in u), u
    u, _ = r.ok("EXAMINE INBOX")
    assert u[0] == b"* OK [CLOSED] Previous mailbox closed.", u


def test_status_highestmodseq(mbox):
    """RFC 7162 3.1.8: STATUS (HIGHESTMODSEQ), which moves with changes."""
    _, r = mbox
    u, _ = r.ok("STATUS INBOX (MESSAGES HIGHESTMODSEQ)")
    m = re.search(rb"HIGHESTMODSEQ (\d+)", u[0])
    assert m and b"MESSAGES 5" in u[0], u
    h1 = int(m.group(1))
    r.ok("SELECT INBOX")
    r.ok("STORE 1 +FLAGS (\\Seen)")
    hms = highestmodseq(r.ok("EXAMINE INBOX")[0])  # STATUS enabled CONDSTORE
    assert hms is not None and hms > h1
    r.ok("UNSELECT")
    u, _ = r.ok("STATUS INBOX (HIGHESTMODSEQ)")
    assert len(u) == 1 and u[0].endswith(b" (HIGHESTMODSEQ %d)" % hms), u


def test_closed_on_reselect_imap4rev2(srv, mbox):
    """IMAP4rev2 sends [CLOSED] even without QRESYNC (RFC 9051 6.3.2)."""
    if srv.kind != "objmail":
        pytest.skip("Dovecot 2.3 has no IMAP4rev2")
    _, r = mbox
    r.ok("ENABLE IMAP4rev2")
    r.ok("SELECT INBOX")
    u, _ = r.ok("EXAMINE INBOX")
    assert u[0] == b"* OK [CLOSED] Previous mailbox closed.", u


def test_qresync_move_and_idle(srv, mbox):
    """Under QRESYNC, MOVE's expunges and another session's expunge seen
    in IDLE are VANISHED too."""
    user, r = mbox
    r.ok("ENABLE QRESYNC")
    r.ok("CREATE Other")
    r.ok("SELECT INBOX")
    u, _ = r.ok("UID MOVE 1:2 Other")
    assert vanished(u, earlier=False) == {1, 2}, u
    assert not any(x.endswith(b"EXPUNGE") for x in u), u
    r.send("I1 IDLE\r\n")
    assert r.read_response().startswith(b"+")
    with srv.raw(login=user) as other:
        other.ok("SELECT INBOX")
        other.ok("UID STORE 4 +FLAGS (\\Deleted)")
        other.ok("UID EXPUNGE 4")
    seen = []
    while not any(x.startswith(b"* VANISHED") for x in seen):
        seen.append(r.read_response())
    r.send("DONE\r\n")
    r.collect("I1")
    assert vanished(seen, earlier=False) == {4}, seen


def vanished_text(untagged):
    """The set of the one VANISHED (EARLIER) response, as sent."""
    v = [x for x in untagged if x.startswith(b"* VANISHED (EARLIER) ")]
    assert len(v) <= 1, untagged
    return v[0].split(b" ", 3)[3].decode() if v else ""


def test_qresync_after_expunges_were_forgotten(make_server):
    """The index keeps only the newest index_expunge_history expunges of a
    mailbox. A client resyncing from before the forgotten ones gets every
    UID up to the forgotten range that is gone (RFC 7162 allows naming
    more), written as ranges; a client from after gets the exact list."""
    srv = make_server(conf={"index_expunge_history": "10"})
    user = srv.take_user()
    with srv.raw(login=user) as r:
        for i in range(200):
            r.append("INBOX", messages.simple("m %d" % i))
        r.ok("ENABLE QRESYNC")
        r.ok("SELECT INBOX")
        r.ok("UID STORE 1:5 +FLAGS.SILENT (\\Deleted)")
        r.ok("UID EXPUNGE 1:5")   # before the client's modseq
        u, _ = r.ok("SELECT INBOX")
        m0 = highestmodseq(u)
        uidvalidity = int(resp_code([x for x in u if b"UIDVALIDITY" in x][0], "UIDVALIDITY"))
        # 145 more in batches: pruning runs every 64 recorded expunges
        for lo, hi in ((6, 50), (51, 100), (101, 150)):
            r.ok("UID STORE %d:%d +FLAGS.SILENT (\\Deleted)" % (lo, hi))
            r.ok("UID EXPUNGE %d:%d" % (lo, hi))
        m1 = highestmodseq(r.ok("NOOP")[0] + r.ok("EXAMINE INBOX")[0])
        r.ok("SELECT INBOX")
        r.ok("UID STORE 151,160 +FLAGS.SILENT (\\Deleted)")
        r.ok("UID EXPUNGE 151,160")
        r.ok("UNSELECT")

        # 1:5 went before m0: named again, as the index can't tell them apart
        u, _ = r.ok("SELECT INBOX (QRESYNC (%d %d))" % (uidvalidity, m0))
        assert vanished_text(u) == "1:151,160", u
        u, _ = r.ok("SELECT INBOX (QRESYNC (%d %d 1:10,140:155,190:*))" % (uidvalidity, m0))
        assert vanished_text(u) == "1:10,140:151", u
        # from after the forgotten ones: exactly what was expunged since
        u, _ = r.ok("SELECT INBOX (QRESYNC (%d %d))" % (uidvalidity, m1))
        assert vanished_text(u) == "151,160", u
        u, _ = r.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % m0)
        assert vanished_text(u) == "1:151,160", u
        # still 48 messages, and a new one gets a new UID
        r.append("INBOX", messages.simple("after"))
        u, _ = r.ok("UID SEARCH ALL")
        uids = [int(x) for x in u[0].split()[2:]]
        assert len(uids) == 49 and uids[-1] == 201, u
    if srv.storage == "maildir":
        import sqlite3
        db = sqlite3.connect(os.path.join(srv.maildir(user), "objmail-index.sqlite"))
        n = db.execute("SELECT COUNT(*) FROM expunged").fetchone()[0]
        floor = db.execute("SELECT modseq, max_uid FROM expunged_floor").fetchall()
        db.close()
        assert n <= 15 + 64 and floor and floor[0][1] >= 64, (n, floor)
