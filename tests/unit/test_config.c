/* LIBS: om_lib */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "lib/om-error.h"

static char tmpdir[] = "/tmp/om-test-config.XXXXXX";
static char conf_path[256];

/* A backend needs these two; tests that exercise other keys add them. */
#define BASE "passdb = passwd-file:/etc/objmail/users\nmail_location = maildir:/srv/mail/%d/%n\n"

static void write_conf(const char *text)
{
	FILE *f = fopen(conf_path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

/* Loads text; returns config_load's result, error text in err. */
static int load(const char *text, struct om_config *cfg, struct buf *err)
{
	write_conf(text);
	buf_reset(err);
	return config_load(cfg, conf_path, err);
}

/* Expects text to fail with exactly "<conf_path>:<suffix>". */
static void expect_error(const char *text, const char *suffix)
{
	struct om_config cfg;
	struct buf err = BUF_INIT;
	struct buf want = BUF_INIT;
	assert_int_equal(load(text, &cfg, &err), -1);
	buf_printf(&want, "%s%s", conf_path, suffix);
	assert_string_equal(buf_cstr(&err), buf_cstr(&want));
	config_free(&cfg);
	buf_free(&err);
	buf_free(&want);
}

static int setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/objmail.conf", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(conf_path);
	rmdir(tmpdir);
	return 0;
}

static void test_defaults(void **state)
{
	(void)state;
	struct om_config cfg;
	config_defaults(&cfg);
	assert_int_equal(cfg.role, OM_ROLE_BACKEND);
	assert_string_equal(cfg.listen_imap, "");
	assert_string_equal(cfg.listen_lmtp, "");
	assert_string_equal(cfg.passdb, "");
	assert_string_equal(cfg.mail_location, "");
	assert_string_equal(cfg.objstore, "");
	assert_int_equal(cfg.fscache_size, 1ULL << 30);
	assert_int_equal(cfg.index_flush_interval, 300);
	assert_false(cfg.ssl_required);
	assert_string_equal(cfg.mail_uid, "");
	assert_int_equal(cfg.quota, 0);
	assert_true(cfg.hostname[0] != '\0');
	assert_string_equal(cfg.log_path, "");
	assert_string_equal(cfg.log_level, "info");
	assert_string_equal(cfg.recipient_delimiter, "+");
	assert_int_equal(cfg.auth_failure_delay, 2);
	assert_int_equal(cfg.io_threads, 1);
	assert_int_equal(cfg.worker_threads, 0);
	assert_int_equal(cfg.mail_max_size, 64ULL << 20);
	assert_int_equal(cfg.imap_max_line, 64ULL << 10);
	assert_int_equal(cfg.imap_idle_timeout, 1800);
	assert_int_equal(cfg.login_timeout, 60);
	assert_int_equal(cfg.max_connections_per_ip, 0);
	assert_int_equal(cfg.obox_lease_ttl, 30);
	assert_string_equal(cfg.obox_lease_address, "");
	assert_true(cfg.obox_lease_break);
	config_free(&cfg);
	config_free(&cfg); /* idempotent */
}

static void test_parse_size(void **state)
{
	(void)state;
	uint64_t v;
	assert_true(config_parse_size("0", &v));
	assert_int_equal(v, 0);
	assert_true(config_parse_size("123", &v));
	assert_int_equal(v, 123);
	assert_true(config_parse_size("512K", &v));
	assert_int_equal(v, 512 * 1024);
	assert_true(config_parse_size("4m", &v));
	assert_int_equal(v, 4ULL << 20);
	assert_true(config_parse_size("10G", &v));
	assert_int_equal(v, 10ULL << 30);
	assert_true(config_parse_size("1T", &v));
	assert_int_equal(v, 1ULL << 40);
	assert_true(config_parse_size("2kb", &v));
	assert_int_equal(v, 2048);
	assert_true(config_parse_size("3 MB", &v));
	assert_int_equal(v, 3ULL << 20);
	assert_false(config_parse_size("", &v));
	assert_false(config_parse_size("12Q", &v));
	assert_false(config_parse_size("K", &v));
	assert_false(config_parse_size("-1", &v));
	assert_false(config_parse_size("1.5G", &v));
	assert_false(config_parse_size("99999999999T", &v));
	assert_false(config_parse_size("18446744073709551616", &v));
}

static void test_parse_duration(void **state)
{
	(void)state;
	unsigned v;
	assert_true(config_parse_duration("45", &v));
	assert_int_equal(v, 45);
	assert_true(config_parse_duration("30s", &v));
	assert_int_equal(v, 30);
	assert_true(config_parse_duration("5m", &v));
	assert_int_equal(v, 300);
	assert_true(config_parse_duration("1h", &v));
	assert_int_equal(v, 3600);
	assert_true(config_parse_duration("2d", &v));
	assert_int_equal(v, 172800);
	assert_true(config_parse_duration("10 mins", &v));
	assert_int_equal(v, 600);
	assert_false(config_parse_duration("", &v));
	assert_false(config_parse_duration("1x", &v));
	assert_false(config_parse_duration("m", &v));
	assert_false(config_parse_duration("5000000000", &v));
	assert_false(config_parse_duration("100000000d", &v));
}

static void test_all_kinds(void **state)
{
	(void)state;
	struct om_config cfg;
	struct buf err = BUF_INIT;
	int r = load("# full config\n"
		     "\n"
		     "   role = backend  \n"
		     "listen_imap = 127.0.0.1:1143\n"
		     "listen_imaps = [::1]:0\n"
		     "listen_lmtp = unix:/run/objmail/lmtp\n"
		     "listen_admin=unix:/run/objmail/admin\n"
		     "listen_metrics = *:9143\n"
		     "passdb = passwd-file:/etc/objmail/users\n"
		     "mail_location = maildir:/srv/mail/%d/%n\n"
		     "objstore = s3://KEY:SECRET@host:7480/bucket\n"
		     "fscache_size = 4G\n"
		     "index_flush_interval = 1m\n"
		     "director_backends = 10.0.0.1:143/24, 10.0.0.2:143/24\n"
		     "ssl_cert = /etc/ssl/c.pem\n"
		     "ssl_key = /etc/ssl/k.pem\n"
		     "ssl_required = yes\n"
		     "mail_uid = vmail\n"
		     "quota = 2G\n"
		     "hostname = mail.example.com\n"
		     "log_path = /var/log/objmail.log\n"
		     "log_level = debug\n"
		     "recipient_delimiter = -\n"
		     "auth_failure_delay = 0\n"
		     "io_threads = 4\n"
		     "worker_threads = 256\n"
		     "mail_max_size = 10M\n"
		     "imap_max_line = 8K\n"
		     "imap_idle_timeout = 2h\n"
		     "login_timeout = 30s\n"
		     "max_connections_per_ip = 20\n",
		     &cfg, &err);
	assert_string_equal(buf_cstr(&err), "");
	assert_int_equal(r, 0);
	assert_string_equal(cfg.path, conf_path);
	assert_int_equal(cfg.role, OM_ROLE_BACKEND);
	assert_string_equal(cfg.listen_imap, "127.0.0.1:1143");
	assert_string_equal(cfg.listen_imaps, "[::1]:0");
	assert_string_equal(cfg.listen_lmtp, "unix:/run/objmail/lmtp");
	assert_string_equal(cfg.listen_admin, "unix:/run/objmail/admin");
	assert_string_equal(cfg.listen_metrics, "*:9143");
	assert_string_equal(cfg.objstore, "s3://KEY:SECRET@host:7480/bucket");
	assert_int_equal(cfg.fscache_size, 4ULL << 30);
	assert_int_equal(cfg.index_flush_interval, 60);
	assert_string_equal(cfg.director_backends, "10.0.0.1:143/24, 10.0.0.2:143/24");
	assert_true(cfg.ssl_required);
	assert_string_equal(cfg.mail_uid, "vmail");
	assert_int_equal(cfg.quota, 2ULL << 30);
	assert_string_equal(cfg.hostname, "mail.example.com");
	assert_string_equal(cfg.log_level, "debug");
	assert_string_equal(cfg.recipient_delimiter, "-");
	assert_int_equal(cfg.auth_failure_delay, 0);
	assert_int_equal(cfg.io_threads, 4);
	assert_int_equal(cfg.worker_threads, 256);
	assert_int_equal(cfg.mail_max_size, 10ULL << 20);
	assert_int_equal(cfg.imap_max_line, 8192);
	assert_int_equal(cfg.imap_idle_timeout, 7200);
	assert_int_equal(cfg.login_timeout, 30);
	assert_int_equal(cfg.max_connections_per_ip, 20);
	config_free(&cfg);

	/* director needs neither passdb nor mail_location */
	r = load("role = director\nssl_required = TRUE\n", &cfg, &err);
	assert_int_equal(r, 0);
	assert_int_equal(cfg.role, OM_ROLE_DIRECTOR);
	assert_true(cfg.ssl_required);
	config_free(&cfg);

	static const char *const bools[][2] = {
		{ "yes", "1" }, { "no", "0" }, { "true", "1" }, { "false", "0" },
		{ "1", "1" }, { "0", "0" }, { "Yes", "1" },
	};
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		struct buf text = BUF_INIT;
		buf_printf(&text, "role = director\nssl_required = %s\n", bools[i][0]);
		assert_int_equal(load(buf_cstr(&text), &cfg, &err), 0);
		assert_int_equal(cfg.ssl_required, bools[i][1][0] == '1');
		config_free(&cfg);
		buf_free(&text);
	}
	buf_free(&err);
}

static void test_quotes_and_comments(void **state)
{
	(void)state;
	struct om_config cfg;
	struct buf err = BUF_INIT;
	int r = load(BASE
		     "hostname = \"mail #1 \\\"main\\\" \\\\ x\"   # comment\n"
		     "log_path = /var/log/a#b   # '#' inside a word is kept\n"
		     "mail_uid = \"\"\n"
		     "recipient_delimiter =\n"
		     "  # indented comment\n"
		     "objstore = file:/srv/objects # trailing\n"
		     "ssl_cert = \"/etc/ssl/cert with space.pem\"\n"
		     "ssl_key=\"k\"#no space needed after a closing quote\n"
		     "\t\n"
		     "listen_imap = 127.0.0.1:143\r\n",
		     &cfg, &err);
	assert_string_equal(buf_cstr(&err), "");
	assert_int_equal(r, 0);
	assert_string_equal(cfg.hostname, "mail #1 \"main\" \\ x");
	assert_string_equal(cfg.log_path, "/var/log/a#b");
	assert_string_equal(cfg.mail_uid, "");
	assert_string_equal(cfg.recipient_delimiter, "");
	assert_string_equal(cfg.objstore, "file:/srv/objects");
	assert_string_equal(cfg.ssl_cert, "/etc/ssl/cert with space.pem");
	assert_string_equal(cfg.ssl_key, "k");
	assert_string_equal(cfg.listen_imap, "127.0.0.1:143");
	config_free(&cfg);
	buf_free(&err);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error(BASE "role = backend\n\n# x\nio_threads = 2\nlisen_imap = :143\n",
		     ":7: unknown key 'lisen_imap'");
	expect_error("# c\n\nfscache_size = 12Q\n", ":3: bad size '12Q' for fscache_size");
	expect_error(BASE "quota = 1G\nquota = 2G\n",
		     ":4: duplicate key 'quota' (first set on line 3)");
	expect_error("role = proxy\n", ":1: bad role 'proxy' (expected backend or director)");
	expect_error("ssl_required = maybe\n",
		     ":1: bad boolean 'maybe' for ssl_required (expected yes or no)");
	expect_error("index_flush_interval = 5 fortnights\n",
		     ":1: bad duration '5 fortnights' for index_flush_interval");
	expect_error("obox_lease_ttl = 5s\n", ":1: obox_lease_ttl must be 6s..86400s, not 5s");
	expect_error("obox_lease_address = 0.0.0.0:143\n",
		     ":1: bad value '0.0.0.0:143' for obox_lease_address: expected IP:PORT or "
		     "[IPv6]:PORT (a specific address, port 1-65535)");
	expect_error("obox_lease_address = unix:/x\n",
		     ":1: bad value 'unix:/x' for obox_lease_address: expected IP:PORT or "
		     "[IPv6]:PORT (a specific address, port 1-65535)");
	expect_error("obox_lease_address = [::]:143\n",
		     ":1: bad value '[::]:143' for obox_lease_address: expected IP:PORT or "
		     "[IPv6]:PORT (a specific address, port 1-65535)");
	expect_error("obox_lease_address = mail.example.com:143\n",
		     ":1: bad value 'mail.example.com:143' for obox_lease_address: expected IP:PORT "
		     "or [IPv6]:PORT (a specific address, port 1-65535)");
	expect_error("io_threads = 0\n", ":1: io_threads must be 1..64, not 0");
	expect_error("io_threads = 65\n", ":1: io_threads must be 1..64, not 65");
	expect_error("worker_threads = 257\n", ":1: worker_threads must be 0..256, not 257");
	expect_error("worker_threads = -1\n", ":1: bad number '-1' for worker_threads");
	expect_error("listen_imap = 127.0.0.1:65536\n",
		     ":1: bad value '127.0.0.1:65536' for listen_imap: bad port (0-65535)");
	expect_error("listen_imap = 127.0.0.1\n",
		     ":1: bad value '127.0.0.1' for listen_imap: "
		     "expected host:port, [ipv6]:port or unix:/path");
	expect_error("listen_lmtp = unix:relative\n",
		     ":1: bad value 'unix:relative' for listen_lmtp: "
		     "unix socket path must be absolute");
	expect_error("listen_imap = ::1:143\n",
		     ":1: bad value '::1:143' for listen_imap: "
		     "bad host (IPv6 addresses need [brackets])");
	expect_error("listen_imap = [zz]:143\n",
		     ":1: bad value '[zz]:143' for listen_imap: bad IPv6 address");
	expect_error("passdb = sql:/x\n",
		     ":1: bad value 'sql:/x' for passdb: expected passwd-file:/path");
	expect_error("mail_location = mbox:/x\n",
		     ":1: bad value 'mbox:/x' for mail_location: "
		     "expected maildir:PATH or obox:PATH");
	expect_error("objstore = ftp://x\n",
		     ":1: bad value 'ftp://x' for objstore: "
		     "expected file:PATH, s3://..., rados://..., fscache:... or faulty:...");
	expect_error("log_level = verbose\n",
		     ":1: bad value 'verbose' for log_level: expected debug, info, warn or error");
	expect_error("imap_max_line = 10\n", ":1: imap_max_line out of range: '10'");
	expect_error("hostname = \"abc\n", ":1: unterminated quoted value");
	expect_error("hostname = \"abc\" def\n", ":1: junk after quoted value");
	expect_error("hostname = \"a\\nb\"\n", ":1: bad escape in quoted value (only \\\" and \\\\)");
	expect_error("\njust words\n", ":2: expected 'key = value'");
	expect_error("= value\n", ":1: expected 'key = value'");
	expect_error("hostname = a\001b\n", ":1: control character in line");
	/* whole-file checks have no line number */
	expect_error("passdb = passwd-file:/x\n", ": mail_location is required");
	expect_error("mail_location = maildir:/x\n", ": passdb is required");
	expect_error(BASE "ssl_cert = /c.pem\n", ": ssl_cert and ssl_key must be set together");

	struct om_config cfg;
	struct buf err = BUF_INIT;
	assert_int_equal(config_load(&cfg, "/nonexistent/objmail.conf", &err), -1);
	assert_string_equal(buf_cstr(&err),
			    "/nonexistent/objmail.conf: cannot open: No such file or directory");
	config_free(&cfg);
	buf_free(&err);
}

static void expect_expand(const char *tmpl, const char *user, const char *want)
{
	struct buf out = BUF_INIT;
	assert_int_equal(config_expand_user_path(tmpl, user, &out), 0);
	assert_string_equal(buf_cstr(&out), want);
	buf_free(&out);
}

static void expect_expand_fail(const char *tmpl, const char *user)
{
	struct buf out = BUF_INIT;
	assert_int_equal(config_expand_user_path(tmpl, user, &out), -OM_EINVAL);
	buf_free(&out);
}

static void test_expand_user_path(void **state)
{
	(void)state;
	expect_expand("/srv/mail/%d/%n", "alice@example.com", "/srv/mail/example.com/alice");
	expect_expand("/srv/mail/%d/%n", "alice", "/srv/mail/alice");
	expect_expand("/srv/mail/%n/%d", "alice", "/srv/mail/alice");
	expect_expand("/srv/mail/%u", "alice@example.com", "/srv/mail/alice@example.com");
	expect_expand("/srv/mail/%n", "a@b@example.com", "/srv/mail/a@b");
	expect_expand("/srv/%%/%u", "bob", "/srv/%/bob");
	expect_expand("/srv/mail", "bob", "/srv/mail");
	expect_expand("/srv/mail/%u/Maildir", "o'brien+tag", "/srv/mail/o'brien+tag/Maildir");

	expect_expand_fail("/srv/%x/%u", "bob");
	expect_expand_fail("/srv/%", "bob");
	static const char *const hostile[] = {
		"../x", "a/b", "..", ".", "", "x\n", "\\x", "a\\b", ".hidden", "a..b",
		"x@..", "x@.", "x@../etc", "@example.com", "a\tb", "a\x7f",
	};
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		expect_expand_fail("/srv/mail/%d/%n", hostile[i]);

	char longname[300];
	memset(longname, 'a', sizeof(longname));
	longname[256] = '\0';
	expect_expand_fail("/srv/%u", longname);
	longname[255] = '\0';
	struct buf out = BUF_INIT;
	assert_int_equal(config_expand_user_path("/srv/%u", longname, &out), 0);
	buf_free(&out);
}

static void test_print_round_trip(void **state)
{
	(void)state;
	struct om_config a, b;
	struct buf err = BUF_INIT;
	assert_int_equal(load(BASE
			      "listen_imap = [::1]:1143\n"
			      "hostname = \"host # with \\\"quotes\\\"\"\n"
			      "quota = 1536K\n"
			      "fscache_size = 1000\n"
			      "index_flush_interval = 90\n"
			      "imap_idle_timeout = 7d\n"
			      "recipient_delimiter = \"\"\n"
			      "ssl_required = yes\n"
			      "worker_threads = 8\n",
			      &a, &err), 0);
	struct buf printed = BUF_INIT;
	config_print(&a, &printed);
	const char *p = buf_cstr(&printed);
	assert_non_null(strstr(p, "\nquota = 1536K\n"));
	assert_non_null(strstr(p, "\nfscache_size = 1000\n"));
	assert_non_null(strstr(p, "\nindex_flush_interval = 90s\n"));
	assert_non_null(strstr(p, "\nimap_idle_timeout = 1w\n"));
	assert_non_null(strstr(p, "\nmail_max_size = 64M\n"));
	assert_non_null(strstr(p, "\nrecipient_delimiter = \"\"\n"));
	assert_non_null(strstr(p, "\nhostname = \"host # with \\\"quotes\\\"\"\n"));
	assert_true(strncmp(p, "role = backend\n", 15) == 0);

	assert_int_equal(load(p, &b, &err), 0);
	assert_string_equal(a.listen_imap, b.listen_imap);
	assert_string_equal(a.hostname, b.hostname);
	assert_string_equal(b.hostname, "host # with \"quotes\"");
	assert_int_equal(a.quota, b.quota);
	assert_int_equal(a.fscache_size, b.fscache_size);
	assert_int_equal(a.index_flush_interval, b.index_flush_interval);
	assert_int_equal(a.imap_idle_timeout, b.imap_idle_timeout);
	assert_string_equal(a.recipient_delimiter, b.recipient_delimiter);
	assert_int_equal(a.ssl_required, b.ssl_required);
	assert_int_equal(a.worker_threads, b.worker_threads);
	struct buf printed2 = BUF_INIT;
	config_print(&b, &printed2);
	assert_string_equal(buf_cstr(&printed), buf_cstr(&printed2));

	config_free(&a);
	config_free(&b);
	buf_free(&printed);
	buf_free(&printed2);
	buf_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_all_kinds),
		cmocka_unit_test(test_quotes_and_comments),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_expand_user_path),
		cmocka_unit_test(test_print_round_trip),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
