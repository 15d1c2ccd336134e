"""Mixed IMAP/LMTP load that remembers what the server acknowledged, and
the checks after it: shared by test_faults.py (60 s under a failing object
store) and bench/soak (random disconnects, kill -9 of the backend).

LMTP clients deliver mails with unique Message-IDs to INBOX and record each
one answered 250. IMAP clients work in a mailbox of their own ("Scratch"):
APPEND, STORE, FETCH, EXPUNGE, accepting NO (e.g. NO [UNAVAILABLE]) and
reconnecting when the server goes away. INBOX is never expunged, so every
acknowledged delivery must be there afterwards, exactly once."""

import random
import re
import socket
import threading
import time
import uuid

import omtest

RESP_CODE = re.compile(rb"^\S+ (OK|NO|BAD)")


class Load:
    def __init__(self, ports, users, passwords, seed=None, disconnect_rate=0.0):
        self.ports = ports            # callable -> {"imap": port, "lmtp": port}
        self.users = users
        self.passwords = passwords
        self.rng = random.Random(seed)
        self.disconnect_rate = disconnect_rate
        self.lock = threading.Lock()
        self.acked = {u: [] for u in users}  # Message-IDs answered 250
        self.stats = {"lmtp_250": 0, "lmtp_4xx": 0, "lmtp_other": 0, "imap_ok": 0,
                      "imap_no": 0, "imap_bad": 0, "conn_errors": 0, "disconnects": 0}
        self.errors = []              # unexpected answers (BAD, 5xx)
        self.stop = threading.Event()

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n

    # --- LMTP ---
    def lmtp_worker(self, wid):
        rng = random.Random(wid * 7919 + 1)
        n = 0
        while not self.stop.is_set():
            try:
                c = omtest.Lmtp(self.ports()["lmtp"], timeout=20)
            except (OSError, KeyError, EOFError):
                self.count("conn_errors")
                time.sleep(0.2)
                continue
            try:
                c.lhlo()
                while not self.stop.is_set():
                    user = rng.choice(self.users)
                    n += 1
                    mid = "<%s.%d.%d@faultload>" % (uuid.uuid4().hex, wid, n)
                    msg = ("From: load@example.com\r\nTo: %s@example.com\r\n"
                           "Subject: load %d\r\nMessage-ID: %s\r\n\r\nbody %s\r\n"
                           % (user, n, mid, "x" * rng.randrange(0, 3000)))
                    code, text = c.send("load@example.com", [user + "@example.com"], msg)[0]
                    if code == 250:
                        with self.lock:
                            self.acked[user].append(mid)
                            self.stats["lmtp_250"] += 1
                    elif 400 <= code < 500:
                        self.count("lmtp_4xx")
                    else:
                        self.count("lmtp_other")
                        with self.lock:
                            self.errors.append("LMTP %s %s" % (code, text))
                    if rng.random() < self.disconnect_rate:
                        self.count("disconnects")
                        break
            except (OSError, EOFError, omtest.LmtpError):
                self.count("conn_errors")
            finally:
                c.close()

    # --- IMAP ---
    def _imap_cmd(self, r, command):
        _, tagged = r.cmd(command)
        m = RESP_CODE.match(tagged)
        kind = m.group(1) if m else b"?"
        if kind == b"OK":
            self.count("imap_ok")
        elif kind == b"NO":
            self.count("imap_no")
        else:
            self.count("imap_bad")
            with self.lock:
                self.errors.append("IMAP %r -> %r" % (command[:60], tagged[:200]))
        return kind

    def imap_worker(self, wid):
        rng = random.Random(wid * 104729 + 3)
        while not self.stop.is_set():
            user = rng.choice(self.users)
            try:
                r = omtest.RawImap(self.ports()["imap"], timeout=20)
            except (OSError, KeyError, EOFError):
                self.count("conn_errors")
                time.sleep(0.2)
                continue
            try:
                if self._imap_cmd(r, "LOGIN %s %s" % (omtest.quote(user),
                                                       omtest.quote(self.passwords[user]))) != b"OK":
                    continue
                self._imap_cmd(r, "CREATE Scratch")
                for _ in range(rng.randrange(5, 30)):
                    if self.stop.is_set():
                        break
                    op = rng.random()
                    if op < 0.3:
                        body = ("Subject: imap\r\nMessage-ID: <%s@imap>\r\n\r\n%s\r\n"
                                % (uuid.uuid4().hex, "y" * rng.randrange(0, 2000))).encode()
                        self._imap_cmd(r, b"APPEND Scratch (\\Seen) {%d}\r\n" % len(body) + body)
                    elif op < 0.45:
                        self._imap_cmd(r, "SELECT Scratch")
                        self._imap_cmd(r, "UID STORE 1:* +FLAGS (\\Flagged)")
                    elif op < 0.5:
                        self._imap_cmd(r, "SELECT Scratch")
                        self._imap_cmd(r, "UID STORE 1:* +FLAGS (\\Deleted)")
                        self._imap_cmd(r, "EXPUNGE")
                    elif op < 0.8:
                        self._imap_cmd(r, "EXAMINE INBOX")
                        self._imap_cmd(r, "UID FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)")
                    else:
                        self._imap_cmd(r, "SELECT INBOX")
                        self._imap_cmd(r, "UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
                        self._imap_cmd(r, "UID STORE 1:10 +FLAGS (\\Seen)")
                    if rng.random() < self.disconnect_rate:
                        self.count("disconnects")
                        break
                else:
                    self._imap_cmd(r, "LOGOUT")
            except (OSError, EOFError, omtest.ImapError, socket.timeout):
                self.count("conn_errors")
            finally:
                r.close()

    def run(self, seconds, lmtp_workers=2, imap_workers=2, during=None):
        threads = [threading.Thread(target=self.lmtp_worker, args=(i,), daemon=True)
                   for i in range(lmtp_workers)]
        threads += [threading.Thread(target=self.imap_worker, args=(100 + i,), daemon=True)
                    for i in range(imap_workers)]
        for t in threads:
            t.start()
        end = time.time() + seconds
        while time.time() < end:
            if during:
                during()
            time.sleep(0.5)
        self.stop.set()
        for t in threads:
            t.join(60)
        return self.stats


def message_ids(srv, user):
    """Message-ID -> count in user's INBOX (a fresh session)."""
    counts = {}
    with srv.raw(login=user) as r:
        r.ok("EXAMINE INBOX")
        untagged, _ = r.ok("UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        for u in untagged:
            for m in re.finditer(rb"Message-ID: (<[^>\r\n]*>)", u, re.I):
                mid = m.group(1).decode()
                counts[mid] = counts.get(mid, 0) + 1
    return counts


def lost_and_doubled(srv, acked):
    """(lost, doubled) acknowledged Message-IDs over all users."""
    lost, doubled = [], []
    for user, mids in acked.items():
        if not mids:
            continue
        have = message_ids(srv, user)
        for mid in mids:
            n = have.get(mid, 0)
            if n == 0:
                lost.append((user, mid))
            elif n > 1:
                doubled.append((user, mid, n))
    return lost, doubled
