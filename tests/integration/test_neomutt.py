"""neomutt, driven by its keys on a pseudo-terminal: it opens the IMAP INBOX,
shows a message (which marks it \\Seen), deletes another and syncs the
mailbox (STORE \\Deleted + EXPUNGE), flags a third, and quits; the server
state is checked afterwards."""

import os
import pty
import select
import signal
import subprocess
import time

import messages
import omtest
from omtest import fetch_map


def read_until(fd, needle, timeout=20.0):
    buf = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            buf += data
            if needle in buf:
                return buf
    raise AssertionError("neomutt never showed %r; screen bytes: %r" % (needle, buf[-3000:]))


def test_neomutt_reads_deletes_flags(make_server, tmp_path):
    omtest.need("neomutt")
    srv = make_server()
    user = srv.take_user()
    with srv.raw(login=user) as r:
        for i in range(5):
            r.append("INBOX", messages.simple(subject="nm-%d" % i),
                     date="0%d-Jan-2024 10:00:00 +0000" % (i + 1))
    rc = tmp_path / "neomuttrc"
    rc.write_text(f"""set imap_user="{user}"
set imap_pass="{srv.password(user)}"
set folder="imap://127.0.0.1:{srv.ports["imap"]}/"
set spoolfile="+INBOX"
set ssl_starttls=no
set ssl_force_tls=no
set imap_passive=yes
set mail_check=0
set header_cache=""
set message_cachedir=""
set record=""
set postponed=""
set sort=date-sent
set delete=yes
set quit=yes
set move=no
set mark_old=no
set wait_key=no
set beep=no
set imap_keepalive=30
""")
    env = dict(os.environ, TERM="vt100", HOME=str(tmp_path), LINES="40", COLUMNS="120")
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe("neomutt", ["neomutt", "-n", "-F", str(rc)], env)
    try:
        read_until(fd, b"nm-4")                 # the index is there
        os.write(fd, b"\r")                       # view the first message (nm-0)
        read_until(fd, b"body")
        os.write(fd, b"i")                        # back to the index
        time.sleep(0.5)
        os.write(fd, b"j")                        # nm-1
        os.write(fd, b"d")                        # delete it
        time.sleep(0.3)
        os.write(fd, b"F")                        # on nm-2 now: flag it
        time.sleep(0.3)
        os.write(fd, b"$")                        # sync: expunge nm-1
        time.sleep(1.0)
        os.write(fd, b"q")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                pid = 0
                break
            try:
                select.select([fd], [], [], 0.2)
                os.read(fd, 65536)
            except OSError:
                pass
        assert pid == 0, "neomutt did not quit"
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)

    with srv.raw(login=user) as r:
        r.ok("EXAMINE INBOX")
        fm = fetch_map(r.ok("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[0])
    state = {}
    for v in fm.values():
        subj = [bytes(x) for k, x in v.items() if k.startswith(b"BODY[")][0]
        state[subj.decode().split(":", 1)[1].strip()] = {bytes(f).decode() for f in v[b"FLAGS"]}
    assert sorted(state) == ["nm-0", "nm-2", "nm-3", "nm-4"], state
    assert "\\Seen" in state["nm-0"]
    assert "\\Flagged" in state["nm-2"]
    assert "\\Seen" not in state["nm-3"] and "\\Seen" not in state["nm-4"]
