"""Servers under test for bench/run: objmaild and a private Dovecot 2.3,
both on loopback ports, plus Ceph (scripts/ceph-dev) for the obox storages.
Every process is stopped by its own PID."""

import os
import pwd
import re
import resource
import shutil
import signal
import socket
import subprocess
import time

MAIL_USER = "mail"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_ports(n):
    ports = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


def wait_port(port, timeout=15.0, proc=None):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.settimeout(2)
                if s.recv(100):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def nofile_hard():
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def mail_ids():
    pw = pwd.getpwnam(MAIL_USER)
    return pw.pw_uid, pw.pw_gid


def mkdir_mail(path):
    os.makedirs(path, exist_ok=True)
    uid, gid = mail_ids()
    os.chown(path, uid, gid)
    os.chmod(path, 0o755)


def is_running(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def wait_exit(pid, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if not is_running(pid):
            return True
        time.sleep(0.05)
    return False


def children_of(pid):
    """Direct children of pid (by /proc/*/stat ppid)."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                rest = f.read().rsplit(")", 1)[1].split()
            if int(rest[1]) == pid and rest[0] != "Z":
                kids.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return kids


def proc_mem(pid):
    """(rss_kib, pss_kib) of one process; zeros if it is gone."""
    rss = pss = 0
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def mem_of(pids):
    rss = pss = 0
    for p in pids:
        r, s = proc_mem(p)
        rss += r
        pss += s
    return {"processes": len(pids), "rss_kib": rss, "pss_kib": pss}


def write_users(path, n, password="pass"):
    with open(path, "w") as f:
        for i in range(n):
            f.write("user%03d:{PLAIN}%s::::::\n" % (i, password))
    os.chmod(path, 0o644)


class Objmail:
    """objmaild in the foreground (-F), as the mail user, on free ports."""

    name = "objmail"

    def __init__(self, binary, workdir, users_file, storage="maildir",
                 objstore=None, extra=None, env=None):
        self.binary = binary
        self.env = env
        self.dir = workdir
        self.users_file = users_file
        self.storage = storage
        self.objstore = objstore
        self.extra = extra or {}
        self.proc = None
        self.imap_port = self.lmtp_port = None
        os.makedirs(workdir, exist_ok=True)
        os.chmod(workdir, 0o755)
        self.mail_dir = os.path.join(workdir, "mail")
        mkdir_mail(self.mail_dir)
        if storage != "maildir" and storage.startswith("obox"):
            self.obj_dir = os.path.join(workdir, "objects")
            if storage == "obox-file":
                mkdir_mail(self.obj_dir)
                self.objstore = "file:" + self.obj_dir

    def config_text(self):
        lines = [
            "listen_imap = 127.0.0.1:%d" % self.imap_port,
            "listen_lmtp = 127.0.0.1:%d" % self.lmtp_port,
            "passdb = passwd-file:%s" % self.users_file,
            "hostname = bench.example.org",
            "log_level = warn",
            "auth_failure_delay = 1",
        ]
        # rados: the ceph-dev keyring is root's (0600), so that server stays root
        if self.storage != "obox-rados":
            lines.append("mail_uid = %s" % MAIL_USER)
        if self.storage == "maildir":
            lines.append("mail_location = maildir:%s/%%n" % self.mail_dir)
        else:
            lines.append("mail_location = obox:%s" % self.mail_dir)
            lines.append("objstore = %s" % self.objstore)
        for k, v in self.extra.items():
            lines.append("%s = %s" % (k, v))
        return "\n".join(lines) + "\n"

    def start(self):
        if self.imap_port is None:
            self.imap_port, self.lmtp_port = free_ports(2)
        self.conf = os.path.join(self.dir, "objmail.conf")
        with open(self.conf, "w") as f:
            f.write(self.config_text())
        os.chmod(self.conf, 0o644)
        self.log = os.path.join(self.dir, "objmaild.log")
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([self.binary, "-c", self.conf, "-F"],
                                     stdout=logf, stderr=logf,
                                     stdin=subprocess.DEVNULL, env=self.env,
                                     preexec_fn=raise_nofile)
        logf.close()
        if not wait_port(self.imap_port, 20, self.proc):
            self.stop()
            raise RuntimeError("objmaild did not start: %s" % self.log_tail())
        return self

    def log_tail(self, n=3):
        try:
            with open(self.log, errors="replace") as f:
                lines = [l.strip() for l in f if l.strip()]
            return " | ".join(lines[-n:]) or "(empty log)"
        except OSError:
            return "(no log)"

    def pids(self):
        return [self.proc.pid] if self.proc and self.proc.poll() is None else []

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def maildir_count(self, user):
        n = 0
        for sub in ("new", "cur"):
            try:
                n += len(os.listdir(os.path.join(self.mail_dir, user, sub)))
            except OSError:
                pass
        return n


DOVECOT_CONF = """\
# written by bench/run: a private Dovecot 2.3 on loopback, in Dovecot's
# documented high-performance process setup
base_dir = {d}/run
state_dir = {d}/state
instance_name = {instance}
listen = 127.0.0.1
protocols = imap lmtp
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Ln
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
hostname = bench.example.org
postmaster_address = postmaster@example.com
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:{d}/mail/%n
# durability as objmail: fsync each new message file (Dovecot's default)
mail_fsync = optimized
# Dovecot's Maildir performance advice when only Dovecot touches the Maildir
maildir_very_dirty_syncs = yes
mail_max_userip_connections = 100000

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {users}
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {users}
  default_fields = uid={uid} gid={gid} home={d}/home/%n
}}
namespace inbox {{
  separator = /
  inbox = yes
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  service_count = 0
  process_min_avail = 2
  client_limit = {login_clients}
}}
service imap {{
  service_count = 0
  process_min_avail = 4
  process_limit = {imap_procs}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
  process_min_avail = 4
}}
service auth {{
  client_limit = {auth_clients}
}}
service anvil {{
  client_limit = {auth_clients}
}}
"""


class Dovecot:
    name = "dovecot"

    def __init__(self, workdir, users_file, max_sessions=1000):
        self.dir = workdir
        self.users_file = users_file
        self.max_sessions = max_sessions
        self.master = None
        os.makedirs(workdir, exist_ok=True)
        os.chmod(workdir, 0o755)
        self.mail_dir = os.path.join(workdir, "mail")
        mkdir_mail(self.mail_dir)
        mkdir_mail(os.path.join(workdir, "home"))
        self.imap_port = self.lmtp_port = None

    def start(self):
        if self.imap_port is None:
            self.imap_port, self.lmtp_port = free_ports(2)
        uid, gid = mail_ids()
        procs = max(1024, self.max_sessions + 100)
        conf = DOVECOT_CONF.format(
            d=self.dir, instance="bench-%d-%d" % (os.getpid(), self.imap_port),
            uid=uid, gid=gid, users=self.users_file, imap_port=self.imap_port,
            lmtp_port=self.lmtp_port, imap_procs=procs,
            login_clients=max(1000, self.max_sessions + 100),
            auth_clients=max(1000, 2 * procs + 100))
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        # the master daemonises and keeps its stdout/stderr: a file, never a pipe
        out = os.path.join(self.dir, "dovecot.start")
        with open(out, "w") as f:
            r = subprocess.run(["/usr/sbin/dovecot", "-c", self.conf], stdout=f, stderr=f,
                               stdin=subprocess.DEVNULL, preexec_fn=raise_nofile)
        if r.returncode != 0:
            with open(out) as f:
                raise RuntimeError("dovecot did not start: %s" % f.read().strip()[-300:])
        pidfile = os.path.join(self.dir, "run", "master.pid")
        end = time.time() + 10
        while time.time() < end and self.master is None:
            try:
                with open(pidfile) as f:
                    self.master = int(f.read().strip())
            except (OSError, ValueError):
                time.sleep(0.05)
        if self.master is None or not wait_port(self.imap_port, 15):
            self.stop()
            raise RuntimeError("dovecot did not come up; see %s/dovecot.log" % self.dir)
        # let process_min_avail forks settle so "before" memory is stable
        time.sleep(0.5)
        return self

    def pids(self):
        if self.master is None:
            return []
        return [self.master] + children_of(self.master)

    def stop(self):
        if self.master is None:
            return
        kids = children_of(self.master)
        try:
            os.kill(self.master, signal.SIGTERM)
        except ProcessLookupError:
            pass
        wait_exit(self.master, 30)
        for k in kids:
            wait_exit(k, 5)
        self.master = None

    def maildir_count(self, user):
        n = 0
        for sub in ("new", "cur"):
            try:
                n += len(os.listdir(os.path.join(self.mail_dir, user, sub)))
            except OSError:
                pass
        return n


def dovecot_version():
    try:
        return subprocess.run(["/usr/sbin/dovecot", "--version"], capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return None


class Ceph:
    """scripts/ceph-dev start|stop|env DIR, if the tree has it."""

    def __init__(self, root, workdir):
        self.script = os.path.join(root, "scripts", "ceph-dev")
        self.dir = workdir
        self.env = {}
        self.started = False
        self.error = None

    def start(self):
        ext = {k: os.environ[k] for k in ("OBJMAIL_TEST_S3", "OBJMAIL_TEST_RADOS")
               if os.environ.get(k)}
        if ext:
            # a Ceph the user runs: take its specs as they are
            self.env = dict(os.environ)
            return True
        if not os.access(self.script, os.X_OK):
            self.error = "scripts/ceph-dev not in this tree yet"
            return False
        os.makedirs(self.dir, exist_ok=True)
        # other clusters may hold the default ports: try a few bases
        bases = [os.environ["CEPH_DEV_PORT_BASE"]] if os.environ.get("CEPH_DEV_PORT_BASE") else \
            ["21300", "21500", "21700", "21900", "17300"]
        for base in bases:
            env = dict(os.environ, CEPH_DEV_PORT_BASE=base)
            r = subprocess.run([self.script, "start", self.dir], capture_output=True, text=True,
                               timeout=240, env=env)
            if r.returncode == 0:
                break
            if "in use" not in r.stderr:
                break
            subprocess.run([self.script, "stop", self.dir], capture_output=True, timeout=120)
            shutil.rmtree(self.dir, ignore_errors=True)
            os.makedirs(self.dir, exist_ok=True)
        if r.returncode != 0:
            self.error = "ceph-dev start failed: %s" % (r.stderr.strip().splitlines() or ["?"])[-1]
            return False
        self.started = True
        r = subprocess.run([self.script, "env", self.dir], capture_output=True, text=True,
                           timeout=60)
        env = dict(os.environ)
        for line in r.stdout.splitlines():
            m = re.match(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
            if m:
                v = m.group(2).strip()
                if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                    v = v[1:-1]
                env[m.group(1)] = v
        self.env = env
        return True

    def spec(self, kind):
        return self.env.get("OBJMAIL_TEST_S3" if kind == "s3" else "OBJMAIL_TEST_RADOS")

    def version(self):
        try:
            r = subprocess.run(["ceph", "--version"], capture_output=True, text=True, timeout=20)
            return r.stdout.strip() or None
        except (OSError, subprocess.TimeoutExpired):
            return None

    def stop(self):
        if self.started:
            subprocess.run([self.script, "stop", self.dir], capture_output=True, timeout=120)
            self.started = False
