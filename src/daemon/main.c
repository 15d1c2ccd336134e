/* objmaild -c FILE [-F]: load the config, bind, drop privileges, serve.
 *
 * Signals are taken by one thread with sigwait() (blocked everywhere else),
 * so SIGHUP's log reopen and passdb reload run as ordinary code:
 * SIGTERM/SIGINT stop gracefully (exit 0), SIGHUP reopens logs and reloads
 * users, SIGPIPE is ignored. After the last connection is closed the
 * storage layer flushes every dirty index and releases its leases; only
 * then are the listening sockets closed (they stop accepting at once). (The
 * periodic flush every index_flush_interval is the storage layer's own:
 * obox runs a background flusher, maildir has nothing to flush.) */
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/passdb.h"
#include "daemon/admin.h"
#include "daemon/daemon.h"
#include "director/director.h"
#include "imap/imap-registry.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "lib/privs.h"
#include "storage/mail-storage.h"

struct signal_ctx {
	sigset_t set;
	struct server *srv;
	struct passdb *passdb;
};

int daemon_reload(struct passdb *passdb)
{
	int ret = 0;
	int r = log_reopen();
	if (r != 0) {
		log_error("log reopen failed: %s", strerror(-r));
		ret = -1;
	}
	if (passdb != NULL && passdb_reload(passdb) != 0) {
		log_error("passdb reload failed; keeping the old users");
		ret = -1;
	}
	return ret;
}

static void *signal_thread(void *arg)
{
	struct signal_ctx *sc = arg;
	for (;;) {
		int sig = 0;
		if (sigwait(&sc->set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP: reopening logs, reloading users");
			(void)daemon_reload(sc->passdb);
			continue;
		}
		log_info("%s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		server_stop(sc->srv);
		return NULL;
	}
}

/* DESIGN.md rule 4: a backend that lost a user's lease disconnects that
 * user's sessions (they reconnect, through a director, to the new holder). */
static void lease_lost_kick(const char *username)
{
	size_t n = imap_registry_kick_with(username, "* BYE [UNAVAILABLE] This mailbox is served "
					   "by another server now, please reconnect.\r\n");
	if (n > 0)
		log_info("%s: lease lost, %zu session(s) disconnected", username, n);
}

static enum log_level parse_level(const char *s)
{
	if (s == NULL)
		return LOG_LEVEL_INFO;
	if (strcmp(s, "debug") == 0)
		return LOG_LEVEL_DEBUG;
	if (strcmp(s, "warn") == 0)
		return LOG_LEVEL_WARN;
	if (strcmp(s, "error") == 0)
		return LOG_LEVEL_ERROR;
	return LOG_LEVEL_INFO;
}

static void usage(void)
{
	fprintf(stderr, "usage: objmaild -c FILE [-F]\n"
			"  -c FILE  configuration file\n"
			"  -F       stay in the foreground, log to stderr\n");
}

static int drop_privileges(const struct om_config *cfg, bool foreground)
{
	if (cfg->mail_uid != NULL && cfg->mail_uid[0] != '\0' && geteuid() == 0) {
		uid_t uid;
		gid_t gid;
		char *error = NULL;
		if (privs_resolve(cfg->mail_uid, &uid, &gid, &error) != 0) {
			fprintf(stderr, "objmaild: %s: %s\n", cfg->path, error);
			free(error);
			return -1;
		}
		daemon_chown_sockets(cfg, uid, gid);
		/* SIGHUP reopens the log as mail_uid (its directory must let
		 * mail_uid create the file after a rotation). */
		if (!foreground && chown(cfg->log_path, uid, gid) != 0)
			log_warn("chown %s: %s", cfg->log_path, strerror(errno));
	}
	char *error = NULL;
	if (privs_drop(cfg->mail_uid, &error) != 0) {
		fprintf(stderr, "objmaild: %s\n", error);
		log_error("%s", error);
		free(error);
		return -1;
	}
	return 0;
}

/* mail_uid must name a user before anything is bound or logged: an unknown
 * one is a config error like a bad value, "FILE:LINE: why" on stderr. */
static int check_mail_uid(const struct om_config *cfg)
{
	if (cfg->mail_uid == NULL || cfg->mail_uid[0] == '\0')
		return 0;
	uid_t uid;
	gid_t gid;
	char *error = NULL;
	if (privs_resolve(cfg->mail_uid, &uid, &gid, &error) == 0)
		return 0;
	unsigned line = config_key_line(cfg, "mail_uid");
	unsigned long long num;
	bool numeric = om_parse_u64(cfg->mail_uid, strlen(cfg->mail_uid), &num);
	struct passwd pw, *res = NULL;
	char tmp[4096];
	if (!numeric && (getpwnam_r(cfg->mail_uid, &pw, tmp, sizeof(tmp), &res) != 0 ||
			 res == NULL))
		fprintf(stderr, "%s:%u: unknown user '%s' for mail_uid\n", cfg->path, line,
			cfg->mail_uid);
	else
		fprintf(stderr, "%s:%u: %s\n", cfg->path, line, error);
	free(error);
	return -1;
}

/* Everything after the config: 0 after a clean stop, 1 on a startup error. */
static int serve(struct om_config *cfg, const char *config_path, bool foreground)
{
	log_set_level(parse_level(cfg->log_level));
	if (!foreground && (cfg->log_path == NULL || cfg->log_path[0] != '/')) {
		fprintf(stderr, "%s: an absolute log_path is required without -F\n", config_path);
		return 1;
	}
	umask(0077); /* mail is private; sockets set their own mode */

	/* Signals: blocked in every thread (they inherit the mask), taken by
	 * the signal thread. Before anything starts threads. */
	signal(SIGPIPE, SIG_IGN);
	struct signal_ctx sc = { 0 };
	sigemptyset(&sc.set);
	sigaddset(&sc.set, SIGTERM);
	sigaddset(&sc.set, SIGINT);
	sigaddset(&sc.set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sc.set, NULL);

	if (!foreground && daemonize_start() != 0)
		return 1;
	int r = log_open(foreground ? NULL : cfg->log_path);
	if (r != 0) {
		fprintf(stderr, "objmaild: log_path %s: %s\n", cfg->log_path, strerror(-r));
		return 1;
	}
	log_info("objmaild starting (config %s)", config_path);

	int ret = 1;
	struct passdb *passdb = NULL;
	struct server *srv = NULL;
	if (cfg->passdb != NULL && cfg->passdb[0] != '\0') {
		char *error = NULL;
		if (passdb_open(cfg->passdb, &passdb, &error) != 0) {
			fprintf(stderr, "objmaild: %s: passdb: %s\n", config_path,
				error != NULL ? error : "failed");
			free(error);
			goto out;
		}
	} else {
		log_warn("no passdb configured: nobody can log in or receive mail");
	}

	srv = server_new(cfg);
	if (cfg->ssl_cert != NULL && cfg->ssl_cert[0] != '\0') {
		char *error = NULL;
		if (server_tls_init(srv, cfg->ssl_cert, cfg->ssl_key, &error) != 0) {
			fprintf(stderr, "objmaild: %s: TLS: %s\n", config_path, error);
			free(error);
			goto out;
		}
	}
	if (cfg->role == OM_ROLE_DIRECTOR) {
		char *error = NULL;
		if (director_start(cfg, &error) != 0) {
			fprintf(stderr, "objmaild: %s: director: %s\n", config_path, error);
			free(error);
			goto out;
		}
	}
	if (daemon_listen(srv, cfg, passdb) != 0)
		goto out;
	/* The listeners stay open until the leases are released (server_free
	 * after mail_storage_shutdown): "connection refused" there tells other
	 * backends that this one is dead. */
	mail_storage_set_lease_address(daemon_lease_address(cfg));
	mail_storage_set_lease_lost_hook(lease_lost_kick);
	if (drop_privileges(cfg, foreground) != 0)
		goto out;

	sc.srv = srv;
	sc.passdb = passdb;
	pthread_t sig_thread;
	if (pthread_create(&sig_thread, NULL, signal_thread, &sc) != 0) {
		fprintf(stderr, "objmaild: pthread_create failed\n");
		goto out;
	}
	/* 5 s: RCPT -> delivery, LOGOUT -> next LOGIN and a burst of
	 * deliveries to one user reuse its open index (doc/benchmarks.md). */
	mail_storage_set_linger(5);
	daemonize_ready();
	server_run(srv);
	pthread_join(sig_thread, NULL);
	mail_storage_set_linger(0);
	/* Every session is gone: upload what is dirty, then let go. */
	r = mail_storage_flush(NULL);
	if (r < 0)
		log_error("final index flush failed: %s", om_strerror(r));
	mail_storage_shutdown();
	ret = 0;
out:
	server_free(srv);
	if (cfg->role == OM_ROLE_DIRECTOR)
		director_stop();
	daemon_listeners_free();
	if (passdb != NULL)
		passdb_close(passdb);
	log_info("objmaild %s", ret == 0 ? "stopped" : "failed to start");
	return ret;
}

int main(int argc, char **argv)
{
	const char *config_path = NULL;
	bool foreground = false;
	int opt;
	while ((opt = getopt(argc, argv, "c:Fh")) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'F':
			foreground = true;
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 1;
		}
	}
	if (config_path == NULL || optind != argc) {
		usage();
		return 1;
	}

	/* zeroed: config_load frees what it replaces */
	struct om_config cfg = { 0 };
	struct buf err = BUF_INIT;
	if (config_load(&cfg, config_path, &err) != 0) {
		fprintf(stderr, "%s\n", buf_cstr(&err));
		buf_free(&err);
		config_free(&cfg);
		return 1;
	}
	buf_free(&err);
	if (check_mail_uid(&cfg) != 0) {
		config_free(&cfg);
		return 1;
	}
	int r = serve(&cfg, config_path, foreground);
	config_free(&cfg);
	return r;
}
