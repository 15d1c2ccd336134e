/* objmail side of the Dovecot round trip: "write ROOT" fills a Maildir
 * through the storage API; "dump ROOT OUT" prints UIDVALIDITY/UIDNEXT/UIDs/
 * flags like dv_lib.dump does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/config.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/mail-storage.h"

#define CHECK(x) do { int _r = (x); if (_r != 0) { fprintf(stderr, "%s:%d: %s = %d\n", __FILE__, __LINE__, #x, _r); exit(1); } } while (0)

static int scmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void dump(struct mail_user *u, FILE *out)
{
	struct mailbox_info *list; size_t n;
	CHECK(mail_user_list_mailboxes(u, &list, &n));
	for (size_t i = 0; i < n; i++) {
		if (list[i].flags & MBOX_NOSELECT) continue;
		struct mailbox *box; struct mailbox_snapshot *s;
		CHECK(mailbox_open(u, list[i].name, true, &box));
		CHECK(mailbox_sync(box, &s));
		fprintf(out, "box %s\t%u\t%u\n", list[i].name, s->uidvalidity, s->uidnext);
		for (size_t j = 0; j < s->count; j++) {
			const char *w[80]; size_t nw = 0;
			const struct mail_rec *r = &s->recs[j];
			if (r->flags & MAIL_SEEN) w[nw++] = "\\Seen";
			if (r->flags & MAIL_ANSWERED) w[nw++] = "\\Answered";
			if (r->flags & MAIL_FLAGGED) w[nw++] = "\\Flagged";
			if (r->flags & MAIL_DELETED) w[nw++] = "\\Deleted";
			if (r->flags & MAIL_DRAFT) w[nw++] = "\\Draft";
			for (size_t k = 0; k < s->n_keywords; k++)
				if (r->keywords & (1ULL << k)) w[nw++] = s->keywords[k];
			qsort(w, nw, sizeof(*w), scmp);
			fprintf(out, "msg %u\t", r->uid);
			for (size_t k = 0; k < nw; k++) fprintf(out, "%s%s", k ? " " : "", w[k]);
			fprintf(out, "\n");
		}
		mailbox_snapshot_free(s);
		mailbox_close(box);
	}
	mailbox_info_free(list, n);
}

int main(int argc, char **argv)
{
	if (argc < 3) return 2;
	struct om_config cfg;
	config_defaults(&cfg);
	free(cfg.mail_location);
	char loc[1024];
	snprintf(loc, sizeof(loc), "maildir:%s", argv[2]);
	cfg.mail_location = strdup(loc);
	log_set_level(LOG_LEVEL_WARN);
	struct mail_user *u;
	CHECK(mail_user_open(&cfg, "bob", NULL, &u));
	if (strcmp(argv[1], "write") == 0) {
		char msg[512];
		CHECK(mail_user_create_mailbox(u, "Entwürfe", 0));
		CHECK(mail_user_create_mailbox(u, "Urlaub/Spanien", 0));
		CHECK(mail_user_create_mailbox(u, "Lists/dev", 0));
		CHECK(mail_user_subscribe(u, "Entwürfe", true));
		const char *kw1[] = { "$Forwarded", "Work" }, *kw2[] = { "$Label1" };
		for (int i = 1; i <= 8; i++) {
			snprintf(msg, sizeof(msg), "From: x@example.com\r\nSubject: om %d\r\nMessage-ID: <om%d@x>\r\n\r\nbody %d\r\n", i, i, i);
			struct mail_save sv = { .data = msg, .len = strlen(msg), .flags = i % 3 == 0 ? MAIL_SEEN : 0,
						.keywords = i % 4 == 0 ? kw1 : i % 5 == 0 ? kw2 : NULL,
						.n_keywords = i % 4 == 0 ? 2 : i % 5 == 0 ? 1 : 0 };
			uint32_t uv, uid;
			CHECK(mailbox_append(u, i > 6 ? "Lists/dev" : "INBOX", &sv, &uv, &uid));
		}
		struct mailbox *box; struct mail_rec *recs; size_t n;
		CHECK(mailbox_open(u, "INBOX", false, &box));
		struct mailbox_snapshot *s; CHECK(mailbox_sync(box, &s)); mailbox_snapshot_free(s);
		uint32_t a[] = { 1, 2 }, b[] = { 2 }, c[] = { 3, 4 }, d[] = { 5 };
		CHECK(mailbox_store(box, a, 2, MAIL_FLAGS_ADD, MAIL_ANSWERED | MAIL_FLAGGED, NULL, 0, &recs, &n)); free(recs);
		CHECK(mailbox_store(box, b, 1, MAIL_FLAGS_ADD, MAIL_DELETED | MAIL_DRAFT, kw2, 1, &recs, &n)); free(recs);
		CHECK(mailbox_expunge(box, b, 1));
		uint32_t uv, *su, *du;
		CHECK(mailbox_copy(box, c, 2, "Entwürfe", false, &uv, &su, &du, &n)); free(su); free(du);
		CHECK(mailbox_copy(box, d, 1, "Urlaub/Spanien", true, &uv, &su, &du, &n)); free(su); free(du);
		mailbox_close(box);
	}
	if (strcmp(argv[1], "modify") == 0) {
		struct mailbox *box; struct mail_rec *recs; size_t n;
		CHECK(mailbox_open(u, "INBOX", false, &box));
		struct mailbox_snapshot *s; CHECK(mailbox_sync(box, &s)); mailbox_snapshot_free(s);
		const char *kw[] = { "ObjmailKw", "NewKw" };
		uint32_t a[] = { 1 }, b[] = { 3, 6 }, c[] = { 7 };
		CHECK(mailbox_store(box, a, 1, MAIL_FLAGS_REMOVE, MAIL_SEEN, kw + 1, 1, &recs, &n)); free(recs);
		CHECK(mailbox_store(box, b, 2, MAIL_FLAGS_REPLACE, MAIL_FLAGGED, kw, 1, &recs, &n)); free(recs);
		CHECK(mailbox_expunge(box, c, 1));
		const char *m = "Subject: om again\r\n\r\nx\r\n";
		struct mail_save sv = { .data = m, .len = strlen(m), .flags = MAIL_ANSWERED, .keywords = kw, .n_keywords = 2 };
		uint32_t uv, uid;
		CHECK(mailbox_append(u, "INBOX", &sv, &uv, &uid));
		CHECK(mail_user_delete_mailbox(u, "Neu/Sub"));
		CHECK(mail_user_rename_mailbox(u, "Listen", "Lists2"));
		mailbox_close(box);
	}
	FILE *out = argc > 3 ? fopen(argv[3], "w") : stdout;
	dump(u, out);
	if (out != stdout) fclose(out);
	mail_user_unref(u);
	config_free(&cfg);
	return 0;
}
