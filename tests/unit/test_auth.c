/* LIBS: om_auth om_lib */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <crypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "auth/passdb.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/om-error.h"

static char tmpdir[] = "/tmp/om-test-auth.XXXXXX";
static char users_path[256];
static char spec[300];

static void write_file(const char *text)
{
	/* write + rename, as an admin's editor or a deploy script would */
	char tmp[300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", users_path);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, users_path), 0);
}

/* "{SCHEME}" + crypt(password) with a fresh salt of the given prefix. */
static void append_crypt(struct buf *b, const char *scheme, const char *prefix,
			 const char *password)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	assert_non_null(crypt_gensalt_rn(prefix, 0, NULL, 0, salt, sizeof(salt)));
	const char *h = crypt_rn(password, salt, &cd, (int)sizeof(cd));
	assert_non_null(h);
	assert_true(h[0] != '*');
	buf_printf(b, "%s%s", scheme, h);
}

/* {SSHA256}: base64(sha256(password . salt) . salt), as doveadm pw writes */
static void append_ssha256(struct buf *b, const char *password, bool hex_unsalted)
{
	const unsigned char salt[4] = { 1, 2, 0xfe, 0x80 };
	unsigned char raw[EVP_MAX_MD_SIZE + sizeof(salt)];
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	EVP_DigestUpdate(ctx, password, strlen(password));
	if (!hex_unsalted)
		EVP_DigestUpdate(ctx, salt, sizeof(salt));
	assert_int_equal(EVP_DigestFinal_ex(ctx, raw, &len), 1);
	EVP_MD_CTX_free(ctx);
	if (hex_unsalted) {
		buf_append_str(b, "{SHA256}");
		for (unsigned i = 0; i < len; i++)
			buf_printf(b, "%02x", raw[i]);
		return;
	}
	memcpy(raw + len, salt, sizeof(salt));
	unsigned char out[128];
	int n = EVP_EncodeBlock(out, raw, (int)(len + sizeof(salt)));
	buf_printf(b, "{SSHA256}%.*s", n, (const char *)out);
}

static int setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(users_path, sizeof(users_path), "%s/users", tmpdir);
	snprintf(spec, sizeof(spec), "passwd-file:%s", users_path);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(users_path);
	rmdir(tmpdir);
	return 0;
}

static void test_password_schemes(void **state)
{
	(void)state;
	static const struct { const char *scheme, *prefix; } crypts[] = {
		{ "{SHA512-CRYPT}", "$6$" }, { "{SHA256-CRYPT}", "$5$" },
		{ "{BLF-CRYPT}", "$2y$" }, { "{BLF-CRYPT}", "$2b$" },
		{ "{MD5-CRYPT}", "$1$" }, { "{CRYPT}", "$6$" }, { "", "$6$" },
		{ "{crypt}", "$5$" },
	};
	for (size_t i = 0; i < sizeof(crypts) / sizeof(crypts[0]); i++) {
		struct buf b = BUF_INIT;
		append_crypt(&b, crypts[i].scheme, crypts[i].prefix, "s3cret pass");
		assert_true(password_verify(buf_cstr(&b), "s3cret pass"));
		assert_false(password_verify(buf_cstr(&b), "s3cret pasS"));
		assert_false(password_verify(buf_cstr(&b), ""));
		buf_free(&b);
	}
	assert_true(password_verify("{PLAIN}hello", "hello"));
	assert_true(password_verify("{CLEARTEXT}hello", "hello"));
	assert_true(password_verify("{plain}a:b c", "a:b c"));
	assert_false(password_verify("{PLAIN}hello", "hello2"));
	assert_false(password_verify("{PLAIN}hello", "hell"));
	assert_false(password_verify("{PLAIN}", ""));
	assert_false(password_verify("{NOSUCH}x", "x"));
	assert_false(password_verify("{PLAIN", "x"));
	assert_false(password_verify("*", "x"));
	assert_false(password_verify("!$6$abc$def", "x"));
	assert_false(password_verify("{CRYPT}", "x"));
	assert_false(password_verify(NULL, "x"));

	/* made by `doveadm pw -s SCHEME -p sekr1t` (Dovecot 2.3) */
	static const char *const dovecot[] = {
		"{SHA512-CRYPT}$6$RZaqTwDoYnPJkzlm$vhRMLT6b8g6U68b2F06YOuli3QKlwOpp2RNscHbs2hFCXEvCNH1adX1FqGkQYiPyDNHqKWNIRC1oLwhr0ZWte.",
		"{BLF-CRYPT}$2y$05$G2B9APgFcAR9RcMwxcfjj.bpDngVlE.aeHaktO9x9W.F/CIgcgMpO",
		"{SSHA512.HEX}0d18cba6c81ec27005d7839ccf465d0b4446281ac9955ff9e11b8d6489721767c7fc984dc7fb386f536474d4c7b74243c0acee35c8b1e482a9904b1141861f48a437c703",
		"{SSHA256}0y8DWzCi8dOU+c6Vfev6XKAxHsUqAZZA3tcZlgBU2NYDZ8D5",
		"{SHA256.HEX}c7b4b678b227f6dfb8feedbb5f04e9293c20692af74a7d7f407a262bbad555e2",
		"{SSHA}8tf/jruVU6qNYCtreJSPXX+jDENkPTes",
	};
	for (size_t i = 0; i < sizeof(dovecot) / sizeof(dovecot[0]); i++) {
		assert_true(password_verify(dovecot[i], "sekr1t"));
		assert_false(password_verify(dovecot[i], "sekr1T"));
	}

	struct buf b = BUF_INIT;
	append_ssha256(&b, "pw", false);
	assert_true(password_verify(buf_cstr(&b), "pw"));
	assert_false(password_verify(buf_cstr(&b), "pw2"));
	buf_reset(&b);
	append_ssha256(&b, "pw", true);
	assert_true(password_verify(buf_cstr(&b), "pw"));
	assert_false(password_verify(buf_cstr(&b), "px"));
	buf_free(&b);
}

/* The standard file of the passdb tests. */
static void write_users(void)
{
	struct buf f = BUF_INIT;
	buf_append_str(&f, "# objmail users\n\n");
	buf_append_str(&f, "alice:");
	append_crypt(&f, "{SHA512-CRYPT}", "$6$", "alicepw");
	buf_append_str(&f, ":1000:1000::/home/alice::userdb_quota_rule=*:storage=2G\n");
	buf_append_str(&f, "bob:");
	append_crypt(&f, "{BLF-CRYPT}", "$2y$", "bobpw");
	buf_append_str(&f, "::::::quota=512M\n");
	buf_append_str(&f, "carol@example.com:{PLAIN}carolpw\n");
	buf_append_str(&f, "dave:{SHA256-CRYPT}");
	append_crypt(&f, "", "$5$", "davepw");
	buf_append_str(&f, ":::::: userdb_quota_rule=*:storage=1024 home=/extra/dave\n");
	buf_append_str(&f, "erin:{MD5-CRYPT}");
	append_crypt(&f, "", "$1$", "erinpw");
	buf_append_str(&f, "\n");
	buf_append_str(&f, "frank::1000:1000::/home/frank\n"); /* login disabled */
	buf_append_str(&f, "gina:{PLAIN}ginapw::::::quota_rule=*:bytes=1000\n");
	buf_append_str(&f, "   # indented comment\n");
	buf_append_str(&f, "malformed line without colon\n");
	buf_append_str(&f, ":{PLAIN}noname\n");
	buf_append_str(&f, "a/b:{PLAIN}slash\n");
	buf_append_str(&f, "bob:{PLAIN}second-bob-ignored\n");
	buf_append_str(&f, "heidi:{PLAIN}heidipw::::::quota=lots\n");
	write_file(buf_cstr(&f));
	buf_free(&f);
}

static struct passdb *open_db(void)
{
	struct passdb *db = NULL;
	char *error = NULL;
	int r = passdb_open(spec, &db, &error);
	if (error != NULL)
		fprintf(stderr, "passdb_open: %s\n", error);
	assert_int_equal(r, 0);
	assert_null(error);
	assert_non_null(db);
	return db;
}

static void test_open_errors(void **state)
{
	(void)state;
	struct passdb *db = NULL;
	char *error = NULL;
	assert_int_equal(passdb_open("passwd-file:/nonexistent/users", &db, &error), -OM_EINVAL);
	assert_non_null(error);
	assert_non_null(strstr(error, "/nonexistent/users"));
	free(error);
	error = NULL;
	assert_int_equal(passdb_open("ldap:/x", &db, &error), -OM_EINVAL);
	assert_string_equal(error, "unknown passdb driver 'ldap'");
	free(error);
	error = NULL;
	assert_int_equal(passdb_open("nocolon", &db, &error), -OM_EINVAL);
	assert_non_null(error);
	free(error);
}

static void expect_user(struct passdb *db, const char *name, const char *canonical)
{
	struct passdb_user u;
	int r = passdb_lookup(db, name, &u);
	if (canonical == NULL) {
		assert_int_equal(r, -OM_ENOTFOUND);
		return;
	}
	assert_int_equal(r, 0);
	assert_string_equal(u.user, canonical);
	passdb_user_free(&u);
}

static void test_lookup_verify(void **state)
{
	(void)state;
	write_users();
	struct passdb *db = open_db();

	assert_int_equal(passdb_verify(db, "alice", "alicepw"), 0);
	assert_int_equal(passdb_verify(db, "alice", "wrong"), -OM_EAUTH);
	assert_int_equal(passdb_verify(db, "bob", "bobpw"), 0);
	assert_int_equal(passdb_verify(db, "bob", "second-bob-ignored"), -OM_EAUTH);
	assert_int_equal(passdb_verify(db, "carol@example.com", "carolpw"), 0);
	assert_int_equal(passdb_verify(db, "dave", "davepw"), 0);
	assert_int_equal(passdb_verify(db, "erin", "erinpw"), 0);
	assert_int_equal(passdb_verify(db, "erin", "davepw"), -OM_EAUTH);
	assert_int_equal(passdb_verify(db, "frank", ""), -OM_EAUTH);
	assert_int_equal(passdb_verify(db, "frank", "x"), -OM_EAUTH);
	assert_int_equal(passdb_verify(db, "nobody", "x"), -OM_ENOTFOUND);
	assert_int_equal(passdb_verify(db, "alice", NULL), -OM_EAUTH);

	/* @domain falls back to the local part, also lowercased (%Ln) */
	assert_int_equal(passdb_verify(db, "alice@example.com", "alicepw"), 0);
	assert_int_equal(passdb_verify(db, "Alice@Example.COM", "alicepw"), 0);
	assert_int_equal(passdb_verify(db, "alice@example.com", "bad"), -OM_EAUTH);
	expect_user(db, "alice", "alice");
	expect_user(db, "alice@example.com", "alice");
	expect_user(db, "ALICE@example.com", "alice");
	expect_user(db, "a@b@alice@x", NULL);
	expect_user(db, "carol@example.com", "carol@example.com");
	expect_user(db, "carol", NULL);
	expect_user(db, "ALICE", NULL); /* case-sensitive without '@' */
	expect_user(db, "@example.com", NULL);

	/* hostile or malformed names are simply unknown */
	expect_user(db, "", NULL);
	expect_user(db, "a/b", NULL);
	expect_user(db, "alice\n", NULL);
	expect_user(db, "alice\r@x", NULL);
	char longname[300];
	memset(longname, 'a', sizeof(longname));
	longname[256] = '\0';
	expect_user(db, longname, NULL);
	assert_int_equal(passdb_verify(db, longname, "x"), -OM_ENOTFOUND);

	/* malformed lines were skipped, the rest of the file still loaded */
	expect_user(db, "heidi", "heidi");
	expect_user(db, "gina", "gina");
	expect_user(db, "malformed line without colon", NULL);
	passdb_close(db);
}

static void test_fields_and_quota(void **state)
{
	(void)state;
	write_users();
	struct passdb *db = open_db();
	struct passdb_user u;

	assert_int_equal(passdb_lookup(db, "alice", &u), 0);
	assert_string_equal(u.home, "/home/alice");
	assert_true(u.quota_set);
	assert_int_equal(u.quota, 2ULL << 30);
	passdb_user_free(&u);

	assert_int_equal(passdb_lookup(db, "bob", &u), 0);
	assert_null(u.home);
	assert_true(u.quota_set);
	assert_int_equal(u.quota, 512ULL << 20);
	passdb_user_free(&u);

	/* bare storage= number is kilobytes (Dovecot); home= extra field */
	assert_int_equal(passdb_lookup(db, "dave", &u), 0);
	assert_string_equal(u.home, "/extra/dave");
	assert_true(u.quota_set);
	assert_int_equal(u.quota, 1024ULL * 1024);
	passdb_user_free(&u);

	assert_int_equal(passdb_lookup(db, "gina", &u), 0);
	assert_true(u.quota_set);
	assert_int_equal(u.quota, 1000);
	passdb_user_free(&u);

	assert_int_equal(passdb_lookup(db, "erin", &u), 0);
	assert_false(u.quota_set);
	assert_int_equal(u.quota, 0);
	passdb_user_free(&u);

	assert_int_equal(passdb_lookup(db, "heidi", &u), 0); /* bad quota ignored */
	assert_false(u.quota_set);
	passdb_user_free(&u);

	assert_int_equal(passdb_lookup(db, "frank", &u), 0);
	assert_string_equal(u.home, "/home/frank");
	passdb_user_free(&u);
	passdb_close(db);
}

static void test_reload(void **state)
{
	(void)state;
	write_file("alice:{PLAIN}one\nbob:{PLAIN}bob\n");
	struct passdb *db = open_db();
	assert_int_equal(passdb_verify(db, "alice", "one"), 0);
	expect_user(db, "carol", NULL);

	write_file("alice:{PLAIN}two\ncarol:{PLAIN}carol\n");
	assert_int_equal(passdb_reload(db), 0);
	assert_int_equal(passdb_verify(db, "alice", "two"), 0);
	assert_int_equal(passdb_verify(db, "alice", "one"), -OM_EAUTH);
	expect_user(db, "carol", "carol");
	expect_user(db, "bob", NULL);

	/* a vanished file keeps the old users */
	unlink(users_path);
	assert_true(passdb_reload(db) < 0);
	expect_user(db, "carol", "carol");

	/* a changed file is noticed without a reload call (after <= 1s) */
	write_file("alice:{PLAIN}three\n");
	struct timespec ts = { 1, 200 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	assert_int_equal(passdb_verify(db, "alice", "three"), 0);
	expect_user(db, "carol", NULL);
	passdb_close(db);
}

struct hammer {
	struct passdb *db;
	int failures;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	for (int i = 0; i < 3000; i++) {
		struct passdb_user u;
		if (passdb_lookup(h->db, "alice@example.com", &u) != 0) {
			h->failures++;
			continue;
		}
		if (strcmp(u.user, "alice") != 0)
			h->failures++;
		passdb_user_free(&u);
		if (passdb_verify(h->db, "alice", "pw") != 0)
			h->failures++;
	}
	return NULL;
}

static void test_concurrent_reload(void **state)
{
	(void)state;
	write_file("alice:{PLAIN}pw\nbob:{PLAIN}x\n");
	struct passdb *db = open_db();
	log_set_level(LOG_LEVEL_WARN); /* 50 x "loaded 2 users" */
	pthread_t threads[4];
	struct hammer h[4];
	for (int i = 0; i < 4; i++) {
		h[i].db = db;
		h[i].failures = 0;
		assert_int_equal(pthread_create(&threads[i], NULL, hammer_thread, &h[i]), 0);
	}
	for (int i = 0; i < 50; i++)
		assert_int_equal(passdb_reload(db), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(threads[i], NULL);
		assert_int_equal(h[i].failures, 0);
	}
	passdb_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_schemes),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_lookup_verify),
		cmocka_unit_test(test_fields_and_quota),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_concurrent_reload),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
