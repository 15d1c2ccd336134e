"""pytest fixtures for the objmail integration tests.

`server`      one objmaild per test module (default config, users alice, bob,
              carol, dave and a pool u00..u59); stopped with SIGTERM at the end
              of the module, asserting exit 0 and no ASan/UBSan/LSan report.
`user`        a user of `server` that no other test of the module used.
`make_server` factory for tests that need their own config:
              make_server(conf={...}, users={...}, tls=True, start=True).
See doc/testing.md."""

import os

import pytest

import omtest


# Tests that are about Maildir itself (Dovecot interop on one Maildir, the
# files a command leaves in the Maildir, the Maildir index rebuild, Maildir
# changed behind the server's back) or that set up their own storage: they
# belong to the maildir run of the storage matrix and are deselected (not
# skipped) in the obox runs. doc/testing.md lists them and why.
MAILDIR_ONLY = {
    "test_dovecot_interop.py": None,          # Dovecot and objmail share one Maildir
    "test_maildir_idle.py": None,             # others write the Maildir under IDLE
    "test_director.py": None,                 # sets up its own obox stores (file: and RADOS)
    "test_faults.py": None,                   # its own faulty obox store, once per make test
    "test_persistence.py": {"test_index_rebuilds_when_deleted", "test_index_garbage_is_survived",
                            "test_maildir_changed_while_stopped"},
    "test_imap_basic.py": {"test_append_flags_date_appenduid", "test_close_expunges_deleted",
                           "test_create_list_delete", "test_hierarchy_children",
                           "test_modified_utf7_names", "test_noselect_parent_from_disk",
                           "test_rename_with_children", "test_special_use_created_and_subscribed",
                           "test_subscribe_lsub"},
    "test_imap_store_copy.py": {"test_expunge", "test_move", "test_store_keywords"},
    "test_lmtp.py": {"test_smtp_source_500"},
    # files_outside() allows files only under the Maildir root
    "test_hostile.py": {"test_bad_mailbox_names", "test_login_with_domain_maps_to_canonical_user",
                        "test_bad_login_names", "test_lmtp_bad_recipients_create_nothing",
                        "test_rename_inbox_outside"},
    "test_concurrency.py": {"test_sessions_stay_consistent"},
    "test_fts.py": {"test_maildir_mail_from_outside_is_indexed_lazily",
                    "test_obox_search_zero_gets_file", "test_obox_search_zero_gets_s3",
                    "test_obox_search_zero_gets_rados"},
    "test_privs.py": {"test_runs_as_mail_uid"},
    "test_admin.py": {"test_admin_socket_belongs_to_mail_uid", "test_obox_flush_and_cache_stats"},
    # recounts a Maildir changed by hand, offline
    "test_quota.py": {"test_cli_recalc_offline"},
}


def maildir_only(item):
    fname = os.path.basename(str(item.fspath))
    if fname not in MAILDIR_ONLY:
        return False
    names = MAILDIR_ONLY[fname]
    return names is None or item.originalname in names or item.name in names


def param_storages(item):
    """The storages an item's fixture parameters put it on (params named
    like OBJMAIL_STORAGE values, "obox", or "run-storage")."""
    cs = getattr(item, "callspec", None)
    if cs is None:
        return set()
    out = set()
    for argname, value in cs.params.items():
        if not isinstance(value, str):
            continue
        v = omtest.STORAGE if value == "run-storage" else value
        if v in omtest.STORAGES or v == "obox":
            out.add(v)
        if value != "run-storage" and value == omtest.STORAGE:
            defs = item._fixtureinfo.name2fixturedefs.get(argname) or ()
            if defs and "run-storage" in (defs[-1].params or ()):
                out.add("duplicate")  # the run-storage variant already runs on it
    return out


def deselected(item):
    if "duplicate" in param_storages(item):
        return True
    if maildir_only(item):
        # a maildir test parametrized onto obox too: that variant is not one
        return omtest.STORAGE != "maildir" or bool(param_storages(item) - {"maildir"})
    return omtest.STORAGE == "maildir" and item.get_closest_marker("obox_only") is not None


def pytest_configure(config):
    config.addinivalue_line("markers", "obox_only: a test of obox itself (runs in the obox runs)")
    if omtest.STORAGE not in omtest.STORAGES:
        raise pytest.UsageError("OBJMAIL_STORAGE=%s: not one of %s"
                                % (omtest.STORAGE, ", ".join(omtest.STORAGES)))


def pytest_collection_modifyitems(config, items):
    """The storage matrix: each test runs in the run(s) it belongs to."""
    keep, drop = [], []
    for item in items:
        (drop if deselected(item) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_report_header(config):
    return "objmail build: %s; storage: %s (OBJMAIL_STORAGE)" % (omtest.BUILD, omtest.STORAGE)


@pytest.fixture(scope="session", autouse=True)
def _binaries():
    if omtest.server_class() is omtest.Objmaild and not os.access(omtest.OBJMAILD, os.X_OK):
        pytest.exit("no objmaild at %s (set OBJMAIL_BUILD, or run `make asan`)"
                    % omtest.OBJMAILD, returncode=1)


@pytest.fixture(scope="module")
def server():
    srv = omtest.server_class()()
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


@pytest.fixture
def user(server):
    return server.take_user()


@pytest.fixture(autouse=True)
def _server_still_alive(request):
    """After every test that used the shared server, it must still run."""
    yield
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        if not srv.alive():
            log = srv.restart_after_death()
            pytest.fail("objmaild died during this test (restarted for the next);"
                        " its stderr:\n" + omtest.log_excerpt(log), pytrace=False)


@pytest.fixture
def make_server():
    started = []

    def make(start=True, **kw):
        srv = omtest.server_class()(**kw)
        started.append(srv)
        if start:
            srv.start()
        return srv

    yield make
    errors = []
    for srv in started:
        try:
            if srv.proc is not None or srv.alive():
                srv.stop(check=True)
        except AssertionError as e:
            errors.append(str(e))
        finally:
            srv.cleanup()
    if errors:
        pytest.fail("\n\n".join(errors))

