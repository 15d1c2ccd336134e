"""ESEARCH (RFC 4731), SEARCHRES (RFC 5182) and CONTEXT=SEARCH (RFC 5267:
RETURN (UPDATE) kept current with ADDTO/REMOVEFROM, CANCELUPDATE, PARTIAL)
over raw IMAP, on maildir and obox (over a file: object store)."""

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
def box(srv):
    """A fresh user with 10 messages in INBOX (UIDs 1..10), 2,4,6,8,10
    \\Flagged, 7..10 \\Seen; selected."""
    user = srv.take_user()
    r = srv.raw(login=user)
    for i in range(1, 11):
        flags = []
        if i % 2 == 0:
            flags.append("\\Flagged")
        if i >= 7:
            flags.append("\\Seen")
        r.append("INBOX", messages.simple("msg %d" % i), flags=" ".join(flags))
    r.ok("SELECT INBOX")
    yield user, r
    r.close()


def esearch(untagged):
    return [u for u in untagged if u.startswith(b"* ESEARCH")]


def one(r, command):
    u, t = r.ok(command)
    tag = t.split()[0].decode()
    return u, tag


def test_esearch_forms(box):
    """RFC 4731 3.1 examples: MIN, MAX, ALL, COUNT; RETURN () is ALL."""
    _, r = box
    u, tag = one(r, "SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED")
    assert u == [b'* ESEARCH (TAG "%s") MIN 2 MAX 10 ALL 2,4,6,8,10 COUNT 5' % tag.encode()], u
    u, tag = one(r, "SEARCH RETURN () UNSEEN")
    assert u == [b'* ESEARCH (TAG "%s") ALL 1:6' % tag.encode()], u
    u, tag = one(r, "UID SEARCH RETURN (MIN) SEEN")
    assert u == [b'* ESEARCH (TAG "%s") UID MIN 7' % tag.encode()], u
    u, tag = one(r, "SEARCH RETURN (COUNT) UNSEEN FLAGGED")
    assert u == [b'* ESEARCH (TAG "%s") COUNT 3' % tag.encode()], u
    # nothing matches: only COUNT 0 (RFC 4731 3.1)
    u, tag = one(r, "SEARCH RETURN (MIN MAX ALL COUNT) DELETED")
    assert u == [b'* ESEARCH (TAG "%s") COUNT 0' % tag.encode()], u
    u, tag = one(r, "SEARCH RETURN (ALL) DELETED")
    assert u == [b'* ESEARCH (TAG "%s")' % tag.encode()], u
    # with CHARSET after RETURN
    u, tag = one(r, "SEARCH RETURN (COUNT) CHARSET UTF-8 ALL")
    assert u == [b'* ESEARCH (TAG "%s") COUNT 10' % tag.encode()], u
    _, t = r.cmd("SEARCH RETURN (BOGUS) ALL")
    assert status_of(t) == "BAD", t
    _, t = r.cmd("SEARCH RETURN ALL")
    assert status_of(t) == "BAD", t


def test_esearch_sequence_numbers_after_expunge(box):
    _, r = box
    r.ok("STORE 1:3 +FLAGS.SILENT (\\Deleted)")
    r.ok("EXPUNGE")
    u, tag = one(r, "SEARCH RETURN (ALL) FLAGGED")
    assert u == [b'* ESEARCH (TAG "%s") ALL 1,3,5,7' % tag.encode()], u
    u, tag = one(r, "UID SEARCH RETURN (ALL) FLAGGED")
    assert u == [b'* ESEARCH (TAG "%s") UID ALL 4,6,8,10' % tag.encode()], u


def test_searchres_save_and_dollar(box):
    """RFC 5182: RETURN (SAVE) answers no ESEARCH; "$" then works in FETCH,
    STORE, COPY, SEARCH and UID variants."""
    user, r = box
    u, _ = r.ok("SEARCH RETURN (SAVE) FLAGGED UNSEEN")
    assert esearch(u) == [] and not any(x.startswith(b"* SEARCH") for x in u), u
    fm = fetch_map(r.ok("FETCH $ (UID)")[0])
    assert sorted(int(v[b"UID"]) for v in fm.values()) == [2, 4, 6], fm
    fm = fetch_map(r.ok("UID FETCH $ (FLAGS)")[0])
    assert sorted(fm) == [2, 4, 6]
    r.ok("UID STORE $ +FLAGS.SILENT (\\Answered)")
    u, tag = one(r, "SEARCH RETURN (ALL) ANSWERED")
    assert u == [b'* ESEARCH (TAG "%s") ALL 2,4,6' % tag.encode()], u
    # $ inside SEARCH, and SAVE with its own "$" (RFC 5182 2.2)
    u, tag = one(r, "SEARCH RETURN (ALL SAVE) $ OR 2 4")
    assert u == [b'* ESEARCH (TAG "%s") ALL 2,4' % tag.encode()], u
    u, tag = one(r, "UID SEARCH RETURN (COUNT) UID $")
    assert u == [b'* ESEARCH (TAG "%s") UID COUNT 2' % tag.encode()], u
    r.ok("CREATE Saved")
    u, t = r.ok("COPY $ Saved")
    assert resp_code(t, "COPYUID") is not None, t
    st = r.ok("STATUS Saved (MESSAGES)")[0]
    assert b"MESSAGES 2" in st[0], st
    # MIN/MAX with SAVE keep only those (RFC 5182 2.4)
    r.ok("SEARCH RETURN (MIN MAX SAVE) FLAGGED")
    fm = fetch_map(r.ok("FETCH $ (UID)")[0])
    assert sorted(int(v[b"UID"]) for v in fm.values()) == [2, 10], fm
    # RFC 5182 2.1: a SEARCH ... SAVE answered BAD leaves $, one answered
    # NO empties it; FETCH $ is then OK and empty
    _, t = r.cmd("SEARCH RETURN (SAVE) NOSUCHKEY")
    assert status_of(t) == "BAD", t
    assert sorted(fetch_map(r.ok("FETCH $ (UID)")[0])) == [2, 10]
    _, t = r.cmd("SEARCH RETURN (SAVE) CHARSET X-NONE ALL")
    assert status_of(t) == "NO", t
    u, t = r.ok("FETCH $ (UID)")
    assert fetch_map(u) == {}, u
    # an expunged message leaves $
    r.ok("SEARCH RETURN (SAVE) 1:3")
    r.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    r.ok("EXPUNGE")
    fm = fetch_map(r.ok("UID FETCH $ (UID)")[0])
    assert sorted(int(v[b"UID"]) for v in fm.values()) == [1, 3], fm
    # MOVE $
    r.ok("SEARCH RETURN (SAVE) UID 9:10")
    r.ok("MOVE $ Saved")
    u, tag = one(r, "UID SEARCH RETURN (ALL) ALL")
    assert u == [b'* ESEARCH (TAG "%s") UID ALL 1,3:8' % tag.encode()], u


def test_search_dollar_pipelined(box):
    """RFC 5182 example: SEARCH RETURN (SAVE) and FETCH $ sent together."""
    _, r = box
    r.send("P1 UID SEARCH RETURN (SAVE) SEEN\r\nP2 UID FETCH $ (FLAGS)\r\n")
    u1, t1 = r.collect("P1")
    u2, t2 = r.collect("P2")
    assert status_of(t1) == "OK" and status_of(t2) == "OK", (t1, t2)
    assert sorted(fetch_map(u2)) == [7, 8, 9, 10], u2


def test_partial(srv, box):
    """RFC 5267 4.4: PARTIAL windows of the result (objmail also counts
    from the end, RFC 9394 style)."""
    _, r = box
    u, tag = one(r, "SEARCH RETURN (PARTIAL 1:3) ALL")
    assert u == [b'* ESEARCH (TAG "%s") PARTIAL (1:3 1:3)' % tag.encode()], u
    if srv.kind == "objmail":
        u, tag = one(r, "UID SEARCH RETURN (PARTIAL -1:-2) FLAGGED")
        assert u == [b'* ESEARCH (TAG "%s") UID PARTIAL (-1:-2 8,10)' % tag.encode()], u
    u, tag = one(r, "SEARCH RETURN (PARTIAL 4:100 COUNT) FLAGGED")
    assert u == [b'* ESEARCH (TAG "%s") PARTIAL (4:100 8,10) COUNT 5' % tag.encode()], u
    u, tag = one(r, "SEARCH RETURN (PARTIAL 20:30) ALL")
    assert u == [b'* ESEARCH (TAG "%s") PARTIAL (20:30 NIL)' % tag.encode()], u
    for bad in ("0:3", "x", "1"):
        _, t = r.cmd("SEARCH RETURN (PARTIAL %s) ALL" % bad)
        assert status_of(t) == "BAD", (bad, t)


def test_context_update(srv, box):
    """RFC 5267 4.2/4.3: RETURN (UPDATE) sends ADDTO for new matches
    (delivery, flag change by another session) and REMOVEFROM for ones that
    stop matching (our STORE) or are expunged (before the expunge itself);
    CANCELUPDATE stops it."""
    user, r = box
    u, t = r.cmd("UID SEARCH RETURN (UPDATE) UNSEEN", tag="U1")
    assert status_of(t) == "OK", t
    assert u == [b'* ESEARCH (TAG "U1") UID'], u  # UPDATE alone: no ALL
    u, t = r.cmd("UID SEARCH RETURN (ALL UPDATE) UNSEEN", tag="U0")
    assert u == [b'* ESEARCH (TAG "U0") UID ALL 1:6'], u
    r.ok('CANCELUPDATE "U0"')
    # our own STORE: REMOVEFROM
    u, _ = r.ok("STORE 1 +FLAGS (\\Seen)")
    assert esearch(u) == [b'* ESEARCH (TAG "U1") UID REMOVEFROM (0 1)'], u
    # a delivery and another session's flag change: ADDTO after EXISTS
    assert srv.deliver(user, messages.simple("late"))[0][0] == 250
    with srv.raw(login=user) as other:
        other.ok("SELECT INBOX")
        other.ok("UID STORE 8 -FLAGS (\\Seen)")
    u, _ = r.ok("NOOP")
    ex = [i for i, x in enumerate(u) if x.endswith(b"EXISTS")]
    es = [i for i, x in enumerate(u) if x.startswith(b"* ESEARCH")]
    assert ex and es and ex[0] < es[0], u
    assert esearch(u) == [b'* ESEARCH (TAG "U1") UID ADDTO (0 8,11)'], u
    # an expunge elsewhere: REMOVEFROM before the EXPUNGE
    with srv.raw(login=user) as other:
        other.ok("SELECT INBOX")
        other.ok("UID STORE 3 +FLAGS (\\Deleted)")
        other.ok("UID EXPUNGE 3")
    u, _ = r.ok("NOOP")
    es = [i for i, x in enumerate(u) if x.startswith(b"* ESEARCH")]
    xp = [i for i, x in enumerate(u) if x.endswith(b"EXPUNGE")]
    assert es and xp and es[0] < xp[0], u
    assert esearch(u) == [b'* ESEARCH (TAG "U1") UID REMOVEFROM (0 3)'], u
    # the same tag can't start another context
    _, t = r.cmd("SEARCH RETURN (UPDATE) ALL", tag="U1")
    assert status_of(t) == "BAD", t
    # CANCELUPDATE: no more updates
    r.ok('CANCELUPDATE "U1"')
    u, _ = r.ok("STORE 2 +FLAGS (\\Seen)")
    assert esearch(u) == [], u
    _, t = r.cmd('CANCELUPDATE "U1"')
    assert status_of(t) == "NO", t


def test_context_update_sequence_numbers(srv, box):
    """Without UID, updates name sequence numbers: REMOVEFROM with the
    numbers before the expunge."""
    user, r = box
    u, t = r.cmd("SEARCH RETURN (COUNT UPDATE) FLAGGED", tag="S1")
    assert u == [b'* ESEARCH (TAG "S1") COUNT 5'], u
    r.ok("STORE 4 +FLAGS.SILENT (\\Deleted)")
    u, _ = r.ok("EXPUNGE")
    assert u[0] == b'* ESEARCH (TAG "S1") REMOVEFROM (0 4)', u
    assert b"* 4 EXPUNGE" in u, u
    u, _ = r.ok("STORE 1 +FLAGS (\\Flagged)")
    assert esearch(u) == [b'* ESEARCH (TAG "S1") ADDTO (0 1)'], u


def test_context_update_in_idle(srv, box):
    """Updates arrive during IDLE too."""
    user, r = box
    r.ok("SEARCH RETURN (UPDATE) UNSEEN")
    r.send("I1 IDLE\r\n")
    assert r.read_response().startswith(b"+")
    assert srv.deliver(user, messages.simple("idle"))[0][0] == 250
    seen = []
    while not any(x.startswith(b"* ESEARCH") for x in seen):
        seen.append(r.read_response())
    r.send("DONE\r\n")
    r.collect("I1")
    assert any(re.match(rb'\* ESEARCH \(TAG "T\d+"\) ADDTO \(0 11\)', x) for x in seen), seen


def test_context_update_partial_refused(srv, box):
    _, r = box
    if srv.kind != "objmail":
        pytest.skip("objmail refuses updates of PARTIAL results; Dovecot keeps them")
    u, t = r.cmd("SEARCH RETURN (PARTIAL 1:2 UPDATE) ALL", tag="P9")
    assert status_of(t) == "OK", t
    assert any(x.startswith(b'* NO [NOUPDATE "P9"]') for x in u), u
    u, _ = r.ok("STORE 1 +FLAGS (\\Deleted)")
    assert esearch(u) == [], u


def test_context_sort_update(srv, box):
    """CONTEXT=SORT (RFC 5267 4.3): SORT RETURN (UPDATE) keeps a sorted
    result current; ADDTO and REMOVEFROM name 1-based positions in it."""
    if srv.kind != "objmail":
        pytest.skip("Dovecot has no CONTEXT=SORT")
    user, r = box
    caps = r.ok("CAPABILITY")[0][0].split()
    assert b"CONTEXT=SORT" in caps, caps
    u, t = r.cmd("UID SORT RETURN (ALL UPDATE) (SUBJECT) UTF-8 FLAGGED", tag="C1")
    assert status_of(t) == "OK", t
    # "msg 10" < "msg 2" < "msg 4" ...
    assert u == [b'* ESEARCH (TAG "C1") UID ALL 10,2,4,6,8'], u
    u, _ = r.ok("UID STORE 3 +FLAGS (\\Flagged)")
    assert esearch(u) == [b'* ESEARCH (TAG "C1") UID ADDTO (3 3)'], u
    with srv.raw(login=user) as other:
        other.append("INBOX", messages.simple("msg 05"), flags="\\Flagged")  # UID 11
    u, _ = r.ok("NOOP")
    assert esearch(u) == [b'* ESEARCH (TAG "C1") UID ADDTO (1 11)'], u
    # now 11,10,2,3,4,6,8
    u, _ = r.ok("UID STORE 4,8 -FLAGS (\\Flagged)")
    assert esearch(u) == [b'* ESEARCH (TAG "C1") UID REMOVEFROM (7 8 5 4)'], u
    with srv.raw(login=user) as other:
        other.ok("SELECT INBOX")
        other.ok("UID STORE 2 +FLAGS (\\Deleted)")
        other.ok("UID EXPUNGE 2")
    u, _ = r.ok("NOOP")
    es = [i for i, x in enumerate(u) if x.startswith(b"* ESEARCH")]
    xp = [i for i, x in enumerate(u) if x.endswith(b"EXPUNGE")]
    assert es and xp and es[0] < xp[0], u
    assert esearch(u) == [b'* ESEARCH (TAG "C1") UID REMOVEFROM (3 2)'], u
    # sequence numbers: the same with message numbers
    u, t = r.cmd("SORT RETURN (UPDATE) (REVERSE SUBJECT) UTF-8 UNSEEN", tag="C2")
    assert u == [b'* ESEARCH (TAG "C2")'], u
    u, _ = r.ok("UID STORE 5 +FLAGS (\\Seen)")  # seq 4 now, 2nd from the end
    lines = esearch(u)
    assert b'* ESEARCH (TAG "C2") REMOVEFROM (' in lines[0] and b" 4)" in lines[0], u
    r.ok('CANCELUPDATE "C1" "C2"')
    u, _ = r.ok("UID STORE 6 -FLAGS (\\Flagged)")
    assert esearch(u) == [], u
