"""Started as root with mail_uid, objmaild binds and then runs as that user
with no capabilities, in every thread; the mail it writes belongs to it."""

import os
import pwd

import pytest

import messages
import omtest


def proc_status(path):
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def test_runs_as_mail_uid(make_server):
    omtest.need_root()
    mail = pwd.getpwnam("mail")
    # LeakSanitizer can't inspect a process that changed its uid (it is no
    # longer dumpable), so leaks are checked by the other tests only
    srv = make_server(start=False, conf={"mail_uid": "mail", "listen_imap": "127.0.0.1:0"},
                      env={"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0"})
    omtest.chown_tree(srv.mail_root)
    srv.start()
    st = proc_status("/proc/%d/status" % srv.proc.pid)
    assert st["Uid"] == [str(mail.pw_uid)] * 4, st["Uid"]
    assert st["Gid"] == [str(mail.pw_gid)] * 4, st["Gid"]
    assert st["CapEff"] == ["0000000000000000"], st["CapEff"]
    assert st["CapPrm"] == ["0000000000000000"], st["CapPrm"]
    # nothing to regain: bounding and ambient sets empty, no new privileges
    assert st["CapBnd"] == ["0000000000000000"], st["CapBnd"]
    assert st.get("CapAmb", ["0000000000000000"]) == ["0000000000000000"], st.get("CapAmb")
    assert st["NoNewPrivs"] == ["1"], st["NoNewPrivs"]
    groups = st.get("Groups", [])
    assert all(g == str(mail.pw_gid) for g in groups), "supplementary groups kept: %r" % groups
    tasks = os.listdir("/proc/%d/task" % srv.proc.pid)
    for t in tasks:
        ts = proc_status("/proc/%d/task/%s/status" % (srv.proc.pid, t))
        assert ts["Uid"] == [str(mail.pw_uid)] * 4, (t, ts["Uid"])
        assert ts["CapEff"] == ["0000000000000000"], (t, ts["CapEff"])
        assert ts["CapBnd"] == ["0000000000000000"], (t, ts["CapBnd"])
        assert ts["NoNewPrivs"] == ["1"], (t, ts["NoNewPrivs"])
    # it works, and what it writes belongs to mail
    user = srv.take_user()
    assert srv.deliver(user + "@example.com", messages.MINIMAL)[0][0] == 250
    with srv.raw(login=user) as r:
        r.append("INBOX", messages.PLAIN)
        r.ok("CREATE Projects")
    for root, dirs, files in os.walk(srv.maildir(user)):
        for n in dirs + files:
            p = os.path.join(root, n)
            assert os.lstat(p).st_uid == mail.pw_uid, p


def test_mail_uid_unknown_user_fails(make_server):
    omtest.need_root()
    import subprocess
    srv = make_server(start=False, conf={"mail_uid": "no-such-user-xyz"})
    srv.write_files()
    r = subprocess.run([omtest.OBJMAILD, "-c", srv.conf_path, "-F"], capture_output=True,
                       text=True, timeout=20, env=omtest.sanitizer_env())
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "no-such-user-xyz" in r.stderr, r.stderr
