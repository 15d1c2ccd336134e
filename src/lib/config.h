/* objmaild configuration: one file of `key = value` lines (DESIGN.md).
 * Unknown keys and bad values are errors reported as "FILE:LINE: why". */
#ifndef OM_CONFIG_H
#define OM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"

enum om_role { OM_ROLE_BACKEND, OM_ROLE_DIRECTOR };

struct om_config {
	char *path;                 /* file it was loaded from */
	/* line of path that set each key (0 = default), in table order; for
	 * errors found after loading (config_key_line) */
	unsigned *key_lines;

	/* DESIGN.md keys */
	enum om_role role;          /* role = backend|director (default backend) */
	char *listen_imap;          /* "" = off; "127.0.0.1:1143", "[::1]:143", "unix:/path" */
	char *listen_imaps;
	char *listen_lmtp;
	char *listen_admin;
	char *listen_metrics;
	char *passdb;               /* "passwd-file:/etc/objmail/users" */
	char *mail_location;        /* "maildir:/srv/mail/%d/%n" or "obox:/var/cache/objmail" */
	char *objstore;             /* "file:/srv/objects", "s3://...", "rados://..." (obox) */
	uint64_t fscache_size;      /* bytes, default 1G */
	unsigned index_flush_interval; /* seconds, default 300 */
	char *mail_compress;        /* obox message objects: "none" (default) | "zstd" */
	unsigned obox_lease_ttl;    /* seconds a user's lease lasts unrenewed, default 30, >= 6 */
	char *obox_lease_address;   /* "IP:PORT" other backends can reach; "" = from listen_imap/lmtp */
	bool obox_lease_break;      /* break a provably dead holder's lease (default yes) */
	unsigned obox_flush_threads; /* users whose lease/uploads are handled at once, default 8 */
	char *director_backends;    /* "10.0.0.1:143/24, 10.0.0.2:143/24" */
	char *ssl_cert;
	char *ssl_key;
	bool ssl_required;          /* LOGINDISABLED until STARTTLS */
	char *mail_uid;             /* user name or numeric uid; "" = don't switch */
	uint64_t quota;             /* bytes, 0 = unlimited */
	unsigned quota_messages;    /* messages per user, 0 = unlimited */

	/* operational keys (documented in doc/config.md) */
	char *hostname;             /* greeting, Received:, default gethostname() */
	char *log_path;             /* "" = stderr */
	char *log_level;            /* debug|info|warn|error */
	char *recipient_delimiter;  /* default "+" */
	unsigned auth_failure_delay;/* seconds, default 2 */
	unsigned io_threads;        /* event loop threads, default 1 */
	unsigned worker_threads;    /* default 0 = max(16, 8 x cores) */
	uint64_t mail_max_size;     /* biggest accepted message, default 64M */
	uint64_t imap_max_line;     /* longest IMAP command line (without literals), default 64K */
	unsigned imap_idle_timeout; /* seconds without traffic after login, default 30m */
	unsigned login_timeout;     /* seconds to log in, default 60s */
	unsigned max_connections_per_ip; /* 0 = unlimited */
	/* limits (doc/config.md "Limits"; doc/reliability.md) */
	unsigned max_connections_per_user; /* IMAP sessions per user, 0 = unlimited, default 50 */
	unsigned auth_failures_per_ip;  /* failed logins per IP in the window before
					   further attempts are refused; 0 = off, default 100 */
	unsigned auth_failure_window;   /* seconds, default 5m */
	unsigned max_mailboxes;         /* per user, 0 = unlimited, default 10000 */
	unsigned index_expunge_history; /* expunges remembered per mailbox (QRESYNC) */

	/* director (doc/director.md) */
	unsigned director_probe_interval; /* seconds between backend probes, default 2 */
	unsigned director_drain_grace;    /* seconds before sessions on a drained backend close, default 30 */
	char *director_auth;              /* "local" (passdb at the director) | "passthrough" */
	char *director_master_user;       /* "" = log in to backends with the user's credentials */
	char *director_master_password;
};

/* Load FILE into cfg (defaults first). On error returns -1 and writes
 * "FILE:LINE: why" into err. */
int config_load(struct om_config *cfg, const char *path, struct buf *err);
/* Defaults only (for tests and the CLI without a file). */
void config_defaults(struct om_config *cfg);
void config_free(struct om_config *cfg);
/* The line of cfg->path that set key, for errors found after loading (an
 * unknown mail_uid): 0 if the key kept its default or is unknown. */
unsigned config_key_line(const struct om_config *cfg, const char *key);
/* The effective config, every key with its value, as `key = value` lines. */
void config_print(const struct om_config *cfg, struct buf *out);

/* Parse helpers, shared with the CLI: "512K" "4M" "10G" -> bytes; "30s" "5m"
 * "1h" "2d" -> seconds (a bare number is seconds). false on junk/overflow. */
bool config_parse_size(const char *s, uint64_t *out);
bool config_parse_duration(const char *s, unsigned *out);

/* Expand %u (whole user), %n (local part), %d (domain, "" if none) and %% in
 * tmpl. The user is validated first: it must be non-empty, <= 255 bytes, with
 * no '/', NUL, control characters, and no "." or ".." component, so that the
 * result can never escape the template's directory. -OM_EINVAL otherwise. */
int config_expand_user_path(const char *tmpl, const char *user, struct buf *out);

#endif
