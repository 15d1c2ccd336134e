/* objmaild configuration: `key = value` lines, one table drives parse,
 * validation and printing so that a new key is one table row. */
#include "lib/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/om-error.h"

/* Bounds on the file itself: a config is a few hundred bytes; anything far
 * beyond this is a mistake (wrong file), not a config. */
#define CONFIG_MAX_LINE 65536
#define CONFIG_MAX_LINES 100000
#define USER_NAME_MAX 255

enum cfg_type {
	CFG_STR,      /* free string */
	CFG_LISTEN,   /* "" | host:port | [v6]:port | unix:/abs */
	CFG_PASSDB,   /* "" | passwd-file:PATH */
	CFG_MAILLOC,  /* "" | maildir:PATH | obox:PATH */
	CFG_OBJSTORE, /* "" | file: s3:// rados:// fscache: faulty: */
	CFG_ADDR,     /* "" | IPv4:port | [IPv6]:port (numeric, no port 0) */
	CFG_LOGLEVEL, /* debug|info|warn|error */
	CFG_COMPRESS, /* none|zstd */
	CFG_ROLE,
	CFG_BOOL,
	CFG_SIZE,     /* uint64_t bytes */
	CFG_DURATION, /* unsigned seconds */
	CFG_UINT,     /* unsigned, range min..max */
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t offset;
	unsigned long long min, max; /* CFG_UINT / CFG_SIZE (max 0 = none) */
};

#define K(name, type) { #name, type, offsetof(struct om_config, name), 0, 0 }
#define KR(name, type, lo, hi) { #name, type, offsetof(struct om_config, name), lo, hi }

/* Order here is the order of `objmail config`. */
static const struct cfg_key cfg_keys[] = {
	K(role, CFG_ROLE),
	K(listen_imap, CFG_LISTEN),
	K(listen_imaps, CFG_LISTEN),
	K(listen_lmtp, CFG_LISTEN),
	K(listen_admin, CFG_LISTEN),
	K(listen_metrics, CFG_LISTEN),
	K(passdb, CFG_PASSDB),
	K(mail_location, CFG_MAILLOC),
	K(objstore, CFG_OBJSTORE),
	K(fscache_size, CFG_SIZE),
	K(index_flush_interval, CFG_DURATION),
	K(mail_compress, CFG_COMPRESS),
	/* renewed every ttl/3 with writes stopping ttl/6 before the end: below
	 * 6 s a renewal would have about a second to get through */
	KR(obox_lease_ttl, CFG_DURATION, 6, 86400),
	K(obox_lease_address, CFG_ADDR),
	K(obox_lease_break, CFG_BOOL),
	KR(obox_flush_threads, CFG_UINT, 1, 64),
	K(director_backends, CFG_STR),
	K(director_probe_interval, CFG_DURATION),
	K(director_drain_grace, CFG_DURATION),
	K(director_auth, CFG_STR),
	K(director_master_user, CFG_STR),
	K(director_master_password, CFG_STR),
	K(ssl_cert, CFG_STR),
	K(ssl_key, CFG_STR),
	K(ssl_required, CFG_BOOL),
	K(mail_uid, CFG_STR),
	K(quota, CFG_SIZE),
	KR(quota_messages, CFG_UINT, 0, 4000000000U),
	K(hostname, CFG_STR),
	K(log_path, CFG_STR),
	K(log_level, CFG_LOGLEVEL),
	K(recipient_delimiter, CFG_STR),
	K(auth_failure_delay, CFG_DURATION),
	KR(io_threads, CFG_UINT, 1, 64),
	KR(worker_threads, CFG_UINT, 0, 256),
	KR(mail_max_size, CFG_SIZE, 1, 0),
	/* below ~100 bytes not even LOGIN with a long password fits */
	KR(imap_max_line, CFG_SIZE, 128, 1ULL << 30),
	K(imap_idle_timeout, CFG_DURATION),
	K(login_timeout, CFG_DURATION),
	KR(max_connections_per_ip, CFG_UINT, 0, 1000000),
	KR(max_connections_per_user, CFG_UINT, 0, 1000000),
	KR(auth_failures_per_ip, CFG_UINT, 0, 1000000),
	K(auth_failure_window, CFG_DURATION),
	KR(max_mailboxes, CFG_UINT, 0, 100000000),
	KR(index_expunge_history, CFG_UINT, 10, 100000000),
};
#define CFG_NKEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

static char **cfg_str(struct om_config *cfg, const struct cfg_key *k)
{
	return (char **)((char *)cfg + k->offset);
}

static char *const *cfg_cstr(const struct om_config *cfg, const struct cfg_key *k)
{
	return (char *const *)((const char *)cfg + k->offset);
}

static bool key_is_string(enum cfg_type t)
{
	return t == CFG_STR || t == CFG_LISTEN || t == CFG_PASSDB ||
	       t == CFG_MAILLOC || t == CFG_OBJSTORE || t == CFG_LOGLEVEL || t == CFG_COMPRESS ||
	       t == CFG_ADDR;
}

static char *default_hostname(void)
{
	char name[HOST_NAME_MAX + 1];
	if (gethostname(name, sizeof(name)) != 0 || name[0] == '\0')
		return om_strdup("localhost");
	name[sizeof(name) - 1] = '\0';
	return om_strdup(name);
}

void config_defaults(struct om_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		if (key_is_string(cfg_keys[i].type))
			*cfg_str(cfg, &cfg_keys[i]) = om_strdup("");
	}
	cfg->path = om_strdup("");
	cfg->role = OM_ROLE_BACKEND;
	cfg->fscache_size = 1ULL << 30;
	cfg->index_flush_interval = 300;
	free(cfg->mail_compress);
	cfg->mail_compress = om_strdup("none");
	cfg->obox_lease_ttl = 30;
	cfg->obox_lease_break = true;
	cfg->obox_flush_threads = 8;
	cfg->ssl_required = false;
	cfg->quota = 0;
	free(cfg->hostname);
	cfg->hostname = default_hostname();
	free(cfg->log_level);
	cfg->log_level = om_strdup("info");
	free(cfg->recipient_delimiter);
	cfg->recipient_delimiter = om_strdup("+");
	cfg->auth_failure_delay = 2;
	cfg->io_threads = 1;
	cfg->worker_threads = 0;
	cfg->mail_max_size = 64ULL << 20;
	cfg->imap_max_line = 64ULL << 10;
	cfg->imap_idle_timeout = 1800;
	cfg->login_timeout = 60;
	cfg->max_connections_per_ip = 0;
	cfg->max_connections_per_user = 50;
	cfg->auth_failures_per_ip = 100;
	cfg->auth_failure_window = 300;
	cfg->max_mailboxes = 10000;
	cfg->index_expunge_history = 10000;
	cfg->director_probe_interval = 2;
	cfg->director_drain_grace = 30;
	free(cfg->director_auth);
	cfg->director_auth = om_strdup("local");
}

void config_free(struct om_config *cfg)
{
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		if (key_is_string(cfg_keys[i].type)) {
			char **p = cfg_str(cfg, &cfg_keys[i]);
			free(*p);
			*p = NULL;
		}
	}
	free(cfg->path);
	cfg->path = NULL;
	free(cfg->key_lines);
	cfg->key_lines = NULL;
}

/* ---- value parsers ---- */

static bool parse_scaled(const char *s, const char *const units[][2],
			 const unsigned long long *mult, size_t nunits,
			 unsigned long long *out)
{
	size_t n = 0;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	unsigned long long v;
	if (!om_parse_u64(s, n, &v))
		return false;
	const char *unit = s + n;
	while (*unit == ' ' || *unit == '\t')
		unit++;
	if (*unit == '\0') {
		*out = v;
		return true;
	}
	for (size_t i = 0; i < nunits; i++) {
		for (size_t j = 0; j < 2 && units[i][j] != NULL; j++) {
			if (om_str_ieq(unit, units[i][j]))
				return !__builtin_mul_overflow(v, mult[i], out);
		}
	}
	return false;
}

bool config_parse_size(const char *s, uint64_t *out)
{
	static const char *const units[][2] = {
		{ "B", NULL }, { "K", "KB" }, { "M", "MB" }, { "G", "GB" }, { "T", "TB" },
	};
	static const unsigned long long mult[] = {
		1, 1ULL << 10, 1ULL << 20, 1ULL << 30, 1ULL << 40,
	};
	unsigned long long v;
	if (!parse_scaled(s, units, mult, 5, &v))
		return false;
	*out = v;
	return true;
}

bool config_parse_duration(const char *s, unsigned *out)
{
	static const char *const units[][2] = {
		{ "s", "secs" }, { "sec", "seconds" }, { "m", "mins" }, { "min", "minutes" },
		{ "h", "hours" }, { "hour", NULL }, { "d", "days" }, { "day", NULL },
		{ "w", "weeks" }, { "week", NULL },
	};
	static const unsigned long long mult[] = {
		1, 1, 60, 60, 3600, 3600, 86400, 86400, 604800, 604800,
	};
	unsigned long long v;
	if (!parse_scaled(s, units, mult, 10, &v) || v > UINT_MAX)
		return false;
	*out = (unsigned)v;
	return true;
}

static bool parse_bool(const char *s, bool *out)
{
	if (om_str_ieq(s, "yes") || om_str_ieq(s, "true") || strcmp(s, "1") == 0 ||
	    om_str_ieq(s, "on")) {
		*out = true;
		return true;
	}
	if (om_str_ieq(s, "no") || om_str_ieq(s, "false") || strcmp(s, "0") == 0 ||
	    om_str_ieq(s, "off")) {
		*out = false;
		return true;
	}
	return false;
}

static bool parse_port(const char *s)
{
	unsigned long long port;
	return om_parse_u64(s, strlen(s), &port) && port <= 65535 && strlen(s) <= 5;
}

static bool valid_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' || c == '*';
}

/* Syntax only; whether the address is bindable is the daemon's business. */
static bool valid_listen(const char *s, const char **why)
{
	if (*s == '\0')
		return true;
	if (strncmp(s, "unix:", 5) == 0) {
		const char *p = s + 5;
		struct sockaddr_un sun;
		if (p[0] != '/' || p[1] == '\0') {
			*why = "unix socket path must be absolute";
			return false;
		}
		if (strlen(p) >= sizeof(sun.sun_path)) {
			*why = "unix socket path too long";
			return false;
		}
		return true;
	}
	const char *colon;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':') {
			*why = "expected [ipv6]:port";
			return false;
		}
		char addr[INET6_ADDRSTRLEN + 1];
		size_t alen = (size_t)(close - s - 1);
		struct in6_addr a6;
		if (alen == 0 || alen >= sizeof(addr)) {
			*why = "bad IPv6 address";
			return false;
		}
		memcpy(addr, s + 1, alen);
		addr[alen] = '\0';
		if (inet_pton(AF_INET6, addr, &a6) != 1) {
			*why = "bad IPv6 address";
			return false;
		}
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || colon == s) {
			*why = "expected host:port, [ipv6]:port or unix:/path";
			return false;
		}
		for (const char *p = s; p < colon; p++) {
			if (!valid_host_char(*p)) {
				*why = "bad host (IPv6 addresses need [brackets])";
				return false;
			}
		}
	}
	if (!parse_port(colon + 1)) {
		*why = "bad port (0-65535)";
		return false;
	}
	return true;
}

/* A numeric address another host can connect to: "IPv4:port" or
 * "[IPv6]:port", not a wildcard, not port 0. */
static bool valid_addr(const char *v, const char **why)
{
	if (*v == '\0')
		return true;
	*why = "expected IP:PORT or [IPv6]:PORT (a specific address, port 1-65535)";
	const char *colon = strrchr(v, ':');
	if (colon == NULL || colon == v || !parse_port(colon + 1) || strcmp(colon + 1, "0") == 0)
		return false;
	char host[INET6_ADDRSTRLEN + 2];
	size_t hlen = (size_t)(colon - v);
	unsigned char a[16];
	if (v[0] == '[') {
		if (hlen < 3 || v[hlen - 1] != ']' || hlen - 2 >= sizeof(host))
			return false;
		memcpy(host, v + 1, hlen - 2);
		host[hlen - 2] = '\0';
		static const unsigned char any6[16];
		return inet_pton(AF_INET6, host, a) == 1 && memcmp(a, any6, 16) != 0;
	}
	if (hlen >= sizeof(host))
		return false;
	memcpy(host, v, hlen);
	host[hlen] = '\0';
	return inet_pton(AF_INET, host, a) == 1 && memcmp(a, "\0\0\0\0", 4) != 0;
}

static bool valid_value(const struct cfg_key *k, const char *v, const char **why)
{
	switch (k->type) {
	case CFG_LISTEN:
		return valid_listen(v, why);
	case CFG_PASSDB:
		if (*v == '\0' || (strncmp(v, "passwd-file:", 12) == 0 && v[12] != '\0'))
			return true;
		*why = "expected passwd-file:/path";
		return false;
	case CFG_MAILLOC:
		if (*v == '\0' || (strncmp(v, "maildir:", 8) == 0 && v[8] != '\0') ||
		    (strncmp(v, "obox:", 5) == 0 && v[5] != '\0'))
			return true;
		*why = "expected maildir:PATH or obox:PATH";
		return false;
	case CFG_OBJSTORE: {
		static const char *const prefixes[] = {
			"file:", "s3://", "rados://", "fscache:", "faulty:",
		};
		if (*v == '\0')
			return true;
		for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
			size_t n = strlen(prefixes[i]);
			if (strncmp(v, prefixes[i], n) == 0 && v[n] != '\0')
				return true;
		}
		*why = "expected file:PATH, s3://..., rados://..., fscache:... or faulty:...";
		return false;
	}
	case CFG_ADDR:
		return valid_addr(v, why);
	case CFG_LOGLEVEL:
		if (strcmp(v, "debug") == 0 || strcmp(v, "info") == 0 ||
		    strcmp(v, "warn") == 0 || strcmp(v, "error") == 0)
			return true;
		*why = "expected debug, info, warn or error";
		return false;
	case CFG_COMPRESS:
		if (strcmp(v, "none") == 0 || strcmp(v, "zstd") == 0)
			return true;
		*why = "expected none or zstd";
		return false;
	default:
		return true;
	}
}

/* Stores a parsed value. false + *why on a bad value. */
static bool config_set(struct om_config *cfg, const struct cfg_key *k,
		       const char *v, struct buf *why)
{
	const char *reason = NULL;
	void *field = (char *)cfg + k->offset;

	if (key_is_string(k->type)) {
		if (!valid_value(k, v, &reason)) {
			buf_printf(why, "bad value '%s' for %s: %s", v, k->name, reason);
			return false;
		}
		char **p = field;
		free(*p);
		*p = om_strdup(v);
		return true;
	}
	switch (k->type) {
	case CFG_ROLE:
		if (strcmp(v, "backend") == 0)
			cfg->role = OM_ROLE_BACKEND;
		else if (strcmp(v, "director") == 0)
			cfg->role = OM_ROLE_DIRECTOR;
		else {
			buf_printf(why, "bad role '%s' (expected backend or director)", v);
			return false;
		}
		return true;
	case CFG_BOOL:
		if (!parse_bool(v, field)) {
			buf_printf(why, "bad boolean '%s' for %s (expected yes or no)", v, k->name);
			return false;
		}
		return true;
	case CFG_SIZE: {
		uint64_t size;
		if (!config_parse_size(v, &size)) {
			buf_printf(why, "bad size '%s' for %s", v, k->name);
			return false;
		}
		if (size < k->min || (k->max != 0 && size > k->max)) {
			buf_printf(why, "%s out of range: '%s'", k->name, v);
			return false;
		}
		*(uint64_t *)field = size;
		return true;
	}
	case CFG_DURATION:
		if (!config_parse_duration(v, field)) {
			buf_printf(why, "bad duration '%s' for %s", v, k->name);
			return false;
		}
		if (k->max != 0 && (*(unsigned *)field < k->min || *(unsigned *)field > k->max)) {
			buf_printf(why, "%s must be %llus..%llus, not %s", k->name, k->min, k->max, v);
			return false;
		}
		return true;
	case CFG_UINT: {
		unsigned long long n;
		if (!om_parse_u64(v, strlen(v), &n)) {
			buf_printf(why, "bad number '%s' for %s", v, k->name);
			return false;
		}
		if (n < k->min || n > k->max) {
			buf_printf(why, "%s must be %llu..%llu, not %s", k->name,
				   k->min, k->max, v);
			return false;
		}
		*(unsigned *)field = (unsigned)n;
		return true;
	}
	default:
		break;
	}
	fatal("config: unhandled key type %d", (int)k->type);
}

/* ---- line syntax ---- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Splits one line into key and value (in place). Returns 0 for a blank or
 * comment line, 1 for key/value, -1 with *why on a syntax error. */
static int parse_line(char *line, char **key_r, struct buf *value, const char **why)
{
	char *p = line;
	while (is_space(*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	char *key = p;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
	       (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')
		p++;
	char *key_end = p;
	while (is_space(*p))
		p++;
	if (key_end == key || *p != '=') {
		*why = "expected 'key = value'";
		return -1;
	}
	*key_end = '\0';
	p++;
	while (is_space(*p))
		p++;

	buf_reset(value);
	if (*p == '"') {
		p++;
		for (;;) {
			if (*p == '\0') {
				*why = "unterminated quoted value";
				return -1;
			}
			if (*p == '"')
				break;
			if (*p == '\\') {
				p++;
				if (*p != '"' && *p != '\\') {
					*why = "bad escape in quoted value (only \\\" and \\\\)";
					return -1;
				}
			}
			buf_append_c(value, *p++);
		}
		p++;
		while (is_space(*p))
			p++;
		if (*p != '\0' && *p != '#') {
			*why = "junk after quoted value";
			return -1;
		}
	} else {
		char *start = p;
		char *end = p;
		for (; *p != '\0'; p++) {
			/* '#' starts a comment only after whitespace, so that
			 * "s3://k:se#cret@host" style values need no quotes */
			if (*p == '#' && p > start && is_space(p[-1]))
				break;
			if (!is_space(*p))
				end = p + 1;
		}
		if (*start == '#') {
			end = start;
		}
		buf_append(value, start, (size_t)(end - start));
	}
	*key_r = key;
	return 1;
}

static const struct cfg_key *find_key(const char *name)
{
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		if (strcmp(cfg_keys[i].name, name) == 0)
			return &cfg_keys[i];
	}
	return NULL;
}

static bool has_control_chars(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return true;
	}
	return false;
}

/* Cross-key checks after the whole file is read. */
static bool config_check(const struct om_config *cfg, struct buf *why)
{
	if ((cfg->ssl_cert[0] == '\0') != (cfg->ssl_key[0] == '\0')) {
		buf_append_str(why, "ssl_cert and ssl_key must be set together");
		return false;
	}
	if (cfg->role == OM_ROLE_BACKEND) {
		if (cfg->mail_location[0] == '\0') {
			buf_append_str(why, "mail_location is required");
			return false;
		}
		if (cfg->passdb[0] == '\0') {
			buf_append_str(why, "passdb is required");
			return false;
		}
	}
	if (strcmp(cfg->director_auth, "local") != 0 &&
	    strcmp(cfg->director_auth, "passthrough") != 0) {
		buf_append_str(why, "director_auth must be local or passthrough");
		return false;
	}
	return true;
}

int config_load(struct om_config *cfg, const char *path, struct buf *err)
{
	config_defaults(cfg);
	free(cfg->path);
	cfg->path = om_strdup(path);

	FILE *f = fopen(path, "re");
	if (f == NULL) {
		buf_printf(err, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}

	unsigned seen_line[CFG_NKEYS] = { 0 };
	struct buf value = BUF_INIT;
	struct buf why = BUF_INIT;
	char *line = NULL;
	size_t line_cap = 0;
	unsigned lineno = 0;
	int ret = 0;
	ssize_t n;

	while ((n = getline(&line, &line_cap, f)) >= 0) {
		const char *reason = NULL;
		char *key = NULL;
		lineno++;
		if (lineno > CONFIG_MAX_LINES) {
			buf_printf(err, "%s:%u: too many lines", path, lineno);
			ret = -1;
			break;
		}
		if (n > CONFIG_MAX_LINE) {
			buf_printf(err, "%s:%u: line too long", path, lineno);
			ret = -1;
			break;
		}
		size_t len = (size_t)n;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (has_control_chars(line, len)) {
			buf_printf(err, "%s:%u: control character in line", path, lineno);
			ret = -1;
			break;
		}
		line[len] = '\0';

		int r = parse_line(line, &key, &value, &reason);
		if (r == 0)
			continue;
		if (r < 0) {
			buf_printf(err, "%s:%u: %s", path, lineno, reason);
			ret = -1;
			break;
		}
		const struct cfg_key *k = find_key(key);
		if (k == NULL) {
			buf_printf(err, "%s:%u: unknown key '%s'", path, lineno, key);
			ret = -1;
			break;
		}
		size_t idx = (size_t)(k - cfg_keys);
		if (seen_line[idx] != 0) {
			buf_printf(err, "%s:%u: duplicate key '%s' (first set on line %u)",
				   path, lineno, key, seen_line[idx]);
			ret = -1;
			break;
		}
		seen_line[idx] = lineno;
		buf_reset(&why);
		if (!config_set(cfg, k, buf_cstr(&value), &why)) {
			buf_printf(err, "%s:%u: %s", path, lineno, buf_cstr(&why));
			ret = -1;
			break;
		}
	}
	if (ret == 0 && ferror(f)) {
		buf_printf(err, "%s: read error: %s", path, strerror(errno));
		ret = -1;
	}
	fclose(f);
	free(line);
	buf_free(&value);
	free(cfg->key_lines);
	cfg->key_lines = om_calloc(CFG_NKEYS, sizeof(*cfg->key_lines));
	memcpy(cfg->key_lines, seen_line, sizeof(seen_line));

	if (ret == 0) {
		/* an explicit empty hostname means "the default", never "" in a greeting */
		if (cfg->hostname[0] == '\0') {
			free(cfg->hostname);
			cfg->hostname = default_hostname();
		}
		buf_reset(&why);
		if (!config_check(cfg, &why)) {
			buf_printf(err, "%s: %s", path, buf_cstr(&why));
			ret = -1;
		}
	}
	buf_free(&why);
	return ret;
}

unsigned config_key_line(const struct om_config *cfg, const char *key)
{
	const struct cfg_key *k = find_key(key);
	if (k == NULL || cfg->key_lines == NULL)
		return 0;
	return cfg->key_lines[k - cfg_keys];
}

/* ---- printing ---- */

static void print_size(struct buf *out, uint64_t v)
{
	static const char units[] = "TGMK";
	for (int i = 0; i < 4; i++) {
		uint64_t m = 1ULL << (10 * (4 - i));
		if (v != 0 && v % m == 0) {
			buf_printf(out, "%llu%c", (unsigned long long)(v / m), units[i]);
			return;
		}
	}
	buf_printf(out, "%llu", (unsigned long long)v);
}

static void print_duration(struct buf *out, unsigned v)
{
	static const struct { unsigned secs; char unit; } units[] = {
		{ 604800, 'w' }, { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (v != 0 && v % units[i].secs == 0) {
			buf_printf(out, "%u%c", v / units[i].secs, units[i].unit);
			return;
		}
	}
	buf_printf(out, "%us", v);
}

static void print_string(struct buf *out, const char *s)
{
	bool quote = *s == '\0' || s[0] == '"';
	for (const char *p = s; *p != '\0' && !quote; p++) {
		if (is_space(*p) || *p == '#' || *p == '\\')
			quote = true;
	}
	if (!quote) {
		buf_append_str(out, s);
		return;
	}
	buf_append_c(out, '"');
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_append_c(out, '\\');
		buf_append_c(out, *p);
	}
	buf_append_c(out, '"');
}

void config_print(const struct om_config *cfg, struct buf *out)
{
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		const void *field = (const char *)cfg + k->offset;
		buf_printf(out, "%s = ", k->name);
		if (key_is_string(k->type)) {
			const char *s = *cfg_cstr(cfg, k);
			print_string(out, s != NULL ? s : "");
		} else {
			switch (k->type) {
			case CFG_ROLE:
				buf_append_str(out, cfg->role == OM_ROLE_DIRECTOR ?
					       "director" : "backend");
				break;
			case CFG_BOOL:
				buf_append_str(out, *(const bool *)field ? "yes" : "no");
				break;
			case CFG_SIZE:
				print_size(out, *(const uint64_t *)field);
				break;
			case CFG_DURATION:
				print_duration(out, *(const unsigned *)field);
				break;
			case CFG_UINT:
				buf_printf(out, "%u", *(const unsigned *)field);
				break;
			default:
				break;
			}
		}
		buf_append_c(out, '\n');
	}
}

/* ---- %-expansion of per-user paths ---- */

static bool user_name_safe(const char *user)
{
	size_t len = strlen(user);
	if (len == 0 || len > USER_NAME_MAX || user[0] == '.' || user[0] == '@')
		return false;
	if (strstr(user, "..") != NULL)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)user[i];
		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
			return false;
	}
	/* the domain becomes a path component of its own */
	const char *at = strrchr(user, '@');
	if (at != NULL && at[1] == '.')
		return false;
	return true;
}

int config_expand_user_path(const char *tmpl, const char *user, struct buf *out)
{
	if (user == NULL || !user_name_safe(user))
		return -OM_EINVAL;
	const char *at = strrchr(user, '@');
	size_t local_len = at != NULL ? (size_t)(at - user) : strlen(user);
	const char *domain = at != NULL ? at + 1 : "";

	struct buf tmp = BUF_INIT;
	for (const char *p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			buf_append_c(&tmp, *p);
			continue;
		}
		p++;
		switch (*p) {
		case 'u': buf_append_str(&tmp, user); break;
		case 'n': buf_append(&tmp, user, local_len); break;
		case 'd': buf_append_str(&tmp, domain); break;
		case '%': buf_append_c(&tmp, '%'); break;
		default:
			buf_free(&tmp);
			return -OM_EINVAL;
		}
	}
	/* %d = "" leaves "a//b" or a trailing "/": normalise both */
	const char *s = buf_cstr(&tmp);
	size_t start = out->len;
	for (size_t i = 0; i < tmp.len; i++) {
		if (s[i] == '/' && out->len > start && out->data[out->len - 1] == '/')
			continue;
		buf_append_c(out, s[i]);
	}
	if (out->len > start + 1 && out->data[out->len - 1] == '/')
		buf_truncate(out, out->len - 1);
	buf_free(&tmp);
	return 0;
}
