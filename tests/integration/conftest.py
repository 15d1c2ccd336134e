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


def pytest_report_header(config):
    return "objmail build: %s" % omtest.BUILD


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

