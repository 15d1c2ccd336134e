"""The obox flusher runs users' ticks (lease renewal, change-log and
bundle uploads) on obox_flush_threads threads: a user whose store calls
hang holds one of them, not every other user's uploads and renewals."""

import signal
import time

import pytest

import messages
import obox_store

pytestmark = pytest.mark.obox_only

HANG = 10  # seconds each upload of the slow user's index takes


def idx_keys(spec, user):
    return set(obox_store.list_keys(spec, obox_store.user_prefix(user) + "idx/"))


def wait_for(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("threads", [8, 1])
def test_hanging_user_does_not_hold_up_others(make_server, threads):
    srv = make_server(start=False, conf={"obox_flush_threads": str(threads)})
    inner = srv.conf["objstore"]
    slow, fast = srv.take_user(), srv.take_user()
    # only the slow user's index uploads (bundles, logs) hang; its mail doesn't
    srv.conf["objstore"] = "faulty:rate=0,delay=%ds,ops=put,keys=/%s/idx/:%s" % (HANG, slow, inner)
    srv.start()
    with srv.raw(login=fast) as rf:
        rf.append("INBOX", messages.simple("fast one"))
        rf.ok("SELECT INBOX")
        # the fast user's first bundle is up: its uploads work
        assert wait_for(lambda: idx_keys(inner, fast), 10)
        with srv.raw(login=slow) as rs:
            rs.append("INBOX", messages.simple("slow one"))
            rs.ok("SELECT INBOX")
            rs.ok("STORE 1 +FLAGS (\\Seen)")
            time.sleep(2.5)  # the slow user's tick is in its upload now
            before = idx_keys(inner, fast)
            t0 = time.monotonic()
            rf.ok("STORE 1 +FLAGS (\\Flagged)")
            reached = wait_for(lambda: idx_keys(inner, fast) - before, HANG - 4)
            took = time.monotonic() - t0
    # a graceful stop waits for the hanging upload and the slow user's last one
    srv.proc.send_signal(signal.SIGTERM)
    srv.proc.wait(3 * HANG + 10)
    if threads == 1:
        # one thread: the fast user's change waits behind the hanging upload
        assert not reached, "a single flusher thread was expected to be held up (%.1fs)" % took
    else:
        assert reached, "the fast user's change log waited for the slow user's upload"
