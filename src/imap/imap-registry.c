/* A hash of logged-in sessions by connection id under one mutex. Entries
 * hold copies of what `who` prints, never the session itself: the session
 * changes on worker threads and the registry is read from the admin's. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap/imap-registry.h"
#include "lib/conn.h"

#define REGISTRY_BUCKETS 1024

struct reg_entry {
	struct reg_entry *next;
	struct conn *conn;
	unsigned long id;
	char *user;
	char *ip;
	char *mailbox;
	int64_t since;
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct reg_entry *buckets[REGISTRY_BUCKETS];
static size_t reg_count;

static struct reg_entry **find_slot(unsigned long id)
{
	struct reg_entry **pp = &buckets[id % REGISTRY_BUCKETS];
	while (*pp != NULL && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

void imap_registry_login(struct conn *c, const char *user)
{
	if (c == NULL)
		return;
	unsigned long id = conn_id(c);
	pthread_mutex_lock(&reg_mu);
	struct reg_entry **pp = find_slot(id);
	struct reg_entry *e = *pp;
	if (e == NULL) {
		e = om_calloc(1, sizeof(*e));
		e->conn = c;
		e->id = id;
		e->ip = om_strdup(conn_peer_ip(c));
		e->next = buckets[id % REGISTRY_BUCKETS];
		buckets[id % REGISTRY_BUCKETS] = e;
		reg_count++;
	}
	free(e->user);
	e->user = om_strdup(user);
	e->since = (int64_t)time(NULL);
	pthread_mutex_unlock(&reg_mu);
}

void imap_registry_mailbox(struct conn *c, const char *mailbox)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&reg_mu);
	struct reg_entry *e = *find_slot(conn_id(c));
	if (e != NULL) {
		free(e->mailbox);
		e->mailbox = mailbox != NULL ? om_strdup(mailbox) : NULL;
	}
	pthread_mutex_unlock(&reg_mu);
}

void imap_registry_logout(struct conn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&reg_mu);
	struct reg_entry **pp = find_slot(conn_id(c));
	struct reg_entry *e = *pp;
	if (e != NULL) {
		*pp = e->next;
		reg_count--;
	}
	pthread_mutex_unlock(&reg_mu);
	if (e != NULL) {
		free(e->user);
		free(e->ip);
		free(e->mailbox);
		free(e);
	}
}

size_t imap_registry_count(void)
{
	pthread_mutex_lock(&reg_mu);
	size_t n = reg_count;
	pthread_mutex_unlock(&reg_mu);
	return n;
}

size_t imap_registry_user_count(const char *user)
{
	size_t n = 0;
	pthread_mutex_lock(&reg_mu);
	for (size_t b = 0; b < REGISTRY_BUCKETS; b++) {
		for (const struct reg_entry *e = buckets[b]; e != NULL; e = e->next) {
			if (e->user != NULL && strcmp(e->user, user) == 0)
				n++;
		}
	}
	pthread_mutex_unlock(&reg_mu);
	return n;
}

static void json_str(struct buf *out, const char *s)
{
	buf_append_c(out, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_printf(out, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			buf_printf(out, "\\u%04x", *p);
		else
			buf_append_c(out, (char)*p);
	}
	buf_append_c(out, '"');
}

void imap_registry_json(struct buf *out, size_t max)
{
	size_t n = 0;
	bool truncated = false;
	buf_append_str(out, "{\"sessions\":[");
	pthread_mutex_lock(&reg_mu);
	for (size_t b = 0; b < REGISTRY_BUCKETS && !truncated; b++) {
		for (struct reg_entry *e = buckets[b]; e != NULL; e = e->next) {
			if (max > 0 && n >= max) {
				truncated = true;
				break;
			}
			if (n++ > 0)
				buf_append_c(out, ',');
			buf_append_str(out, "{\"user\":");
			json_str(out, e->user);
			buf_append_str(out, ",\"ip\":");
			json_str(out, e->ip);
			buf_append_str(out, ",\"mailbox\":");
			if (e->mailbox != NULL)
				json_str(out, e->mailbox);
			else
				buf_append_str(out, "null");
			buf_printf(out, ",\"since\":%lld,\"conn\":%lu}", (long long)e->since, e->id);
		}
	}
	pthread_mutex_unlock(&reg_mu);
	buf_printf(out, "],\"truncated\":%s}", truncated ? "true" : "false");
}

void imap_registry_text(struct buf *out, size_t max)
{
	size_t n = 0;
	buf_printf(out, "%-24s %-16s %-24s %s\n", "USER", "IP", "MAILBOX", "SINCE");
	pthread_mutex_lock(&reg_mu);
	for (size_t b = 0; b < REGISTRY_BUCKETS; b++) {
		for (struct reg_entry *e = buckets[b]; e != NULL; e = e->next) {
			if (max > 0 && n >= max) {
				buf_append_str(out, "...\n");
				goto out;
			}
			n++;
			char since[32];
			time_t t = (time_t)e->since;
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
			buf_printf(out, "%-24s %-16s %-24s %s\n", e->user, e->ip,
				   e->mailbox != NULL ? e->mailbox : "-", since);
		}
	}
out:
	pthread_mutex_unlock(&reg_mu);
}

size_t imap_registry_kick(const char *user)
{
	return imap_registry_kick_with(user, "* BYE Disconnected by the administrator.\r\n");
}

size_t imap_registry_kick_with(const char *user, const char *bye_line)
{
	size_t n = 0;
	pthread_mutex_lock(&reg_mu);
	for (size_t b = 0; b < REGISTRY_BUCKETS; b++) {
		for (struct reg_entry *e = buckets[b]; e != NULL; e = e->next) {
			if (strcmp(e->user, user) != 0 || conn_is_closing(e->conn))
				continue;
			/* Both only queue work for the conn's loop, which may be
			 * waiting for reg_mu in on_close: no lock-order problem. */
			conn_write_str(e->conn, bye_line);
			conn_close(e->conn);
			n++;
		}
	}
	pthread_mutex_unlock(&reg_mu);
	return n;
}
