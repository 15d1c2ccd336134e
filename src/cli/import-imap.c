/* objmail import imap URL USER: copy every mailbox of a remote IMAP server
 * (imapsync-like). Per mailbox: EXAMINE, then UID FETCH of the UIDs not yet
 * copied (UID FLAGS INTERNALDATE BODY.PEEK[]) in batches; flags, keywords
 * and internal dates are kept; a target mailbox that is fresh (empty) takes
 * the source's UIDVALIDITY and every message its source UID, so clients
 * that knew the old server need no resync.
 *
 * Resumable: after each batch the target's index meta records
 * "import-imap/<host>/<user>/<mailbox>" = "<source UIDVALIDITY> <last UID
 * copied>"; a second run fetches only UIDs above it (all again, with a
 * warning, if the source's UIDVALIDITY changed). Mailboxes are copied by a
 * few threads, each with its own connection. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli-mail.h"
#include "cli/imap-client.h"
#include "cli/import.h"
#include "imap/imap-parser.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/mail-storage.h"

#define IMPORT_BATCH 200
#define IMPORT_MAX_MAILBOXES 10000
#define IMPORT_MAX_UIDS 10000000

struct src_box {
	char *remote;  /* name as the server has it (modified UTF-7) */
	char *local;   /* UTF-8, '/' separated */
};

struct job {
	struct mail_user *user;
	const struct imapc_url *url;
	struct src_box *boxes;
	size_t n_boxes, next;
	char **subs;
	size_t n_subs;
	pthread_mutex_t lock;
	struct import_stats *st;
	struct cli_progress *prog;
	unsigned long long total;
	int error;
	struct buf err;
};

/* remote name -> local: separator to '/', modified UTF-7 to UTF-8 */
static bool local_name(const char *remote, char sep, struct buf *out)
{
	struct buf tmp = BUF_INIT;
	for (const char *p = remote; *p != '\0'; p++)
		buf_append_c(&tmp, *p == sep ? '/' : *p);
	bool ok = mutf7_to_utf8(buf_cstr(&tmp), tmp.len, out);
	buf_free(&tmp);
	if (ok && strcasecmp(buf_cstr(out), "INBOX") == 0) {
		buf_reset(out);
		buf_append_str(out, "INBOX");
	}
	return ok;
}

struct list_ctx {
	struct job *j;
	bool lsub;
};

static int on_list(void *arg, const struct imapc_resp *r)
{
	struct list_ctx *lc = arg;
	struct job *j = lc->j;
	struct imapc_lex l;
	imapc_lex_init(&l, r);
	int ret = 0;
	bool noselect = false;
	char sep = '/';
	if (imapc_lex_next(&l) != IMAPC_T_ATOM || imapc_lex_next(&l) != IMAPC_T_ATOM ||
	    (strcasecmp(l.tok.data, "LIST") != 0 && strcasecmp(l.tok.data, "LSUB") != 0))
		goto out;
	if (imapc_lex_next(&l) != IMAPC_T_OPEN)
		goto out;
	enum imapc_tok t;
	while ((t = imapc_lex_next(&l)) == IMAPC_T_ATOM) {
		if (strcasecmp(l.tok.data, "\\Noselect") == 0 ||
		    strcasecmp(l.tok.data, "\\NonExistent") == 0)
			noselect = true;
	}
	if (t != IMAPC_T_CLOSE)
		goto out;
	t = imapc_lex_next(&l);
	if (t == IMAPC_T_STRING && l.tok.len == 1)
		sep = l.tok.data[0];
	t = imapc_lex_next(&l);
	if (t != IMAPC_T_STRING && t != IMAPC_T_ATOM)
		goto out;
	struct buf name = BUF_INIT;
	if (!local_name(l.tok.data, sep, &name)) {
		log_warn("import imap: mailbox name %s is not modified UTF-7; skipped", l.tok.data);
		buf_free(&name);
		goto out;
	}
	if (lc->lsub) {
		if (j->n_subs < IMPORT_MAX_MAILBOXES) {
			j->subs = realloc(j->subs, (j->n_subs + 1) * sizeof(*j->subs));
			if (j->subs == NULL)
				abort();
			j->subs[j->n_subs++] = om_strdup(buf_cstr(&name));
		}
	} else if (!noselect) {
		if (j->n_boxes >= IMPORT_MAX_MAILBOXES) {
			ret = -OM_ELIMIT;
		} else {
			j->boxes = realloc(j->boxes, (j->n_boxes + 1) * sizeof(*j->boxes));
			if (j->boxes == NULL)
				abort();
			j->boxes[j->n_boxes].remote = om_strdup(l.tok.data);
			j->boxes[j->n_boxes].local = om_strdup(buf_cstr(&name));
			j->n_boxes++;
		}
	}
	buf_free(&name);
out:
	imapc_lex_free(&l);
	return ret;
}

struct examine_ctx {
	uint32_t uidvalidity;
	uint32_t *uids;
	size_t n, cap;
	uint32_t min_uid;
	bool too_many;
};

static int on_examine(void *arg, const struct imapc_resp *r)
{
	struct examine_ctx *e = arg;
	const char *s = buf_cstr((struct buf *)&r->raw);
	const char *p = strstr(s, "[UIDVALIDITY ");
	if (p != NULL && strncmp(s, "* OK", 4) == 0)
		e->uidvalidity = (uint32_t)strtoul(p + 13, NULL, 10);
	return 0;
}

static int on_search(void *arg, const struct imapc_resp *r)
{
	struct examine_ctx *e = arg;
	struct imapc_lex l;
	imapc_lex_init(&l, r);
	if (imapc_lex_next(&l) == IMAPC_T_ATOM && imapc_lex_next(&l) == IMAPC_T_ATOM &&
	    strcasecmp(l.tok.data, "SEARCH") == 0) {
		while (imapc_lex_next(&l) == IMAPC_T_ATOM) {
			unsigned long v = strtoul(l.tok.data, NULL, 10);
			if (v == 0 || v > UINT32_MAX || v < e->min_uid)
				continue;
			if (e->n >= IMPORT_MAX_UIDS) {
				e->too_many = true;
				break;
			}
			if (e->n == e->cap) {
				e->cap = e->cap ? e->cap * 2 : 256;
				e->uids = realloc(e->uids, e->cap * sizeof(*e->uids));
				if (e->uids == NULL)
					abort();
			}
			e->uids[e->n++] = (uint32_t)v;
		}
	}
	imapc_lex_free(&l);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

struct fetch_ctx {
	struct job *j;
	const struct src_box *box;
	bool keep;
	uint32_t last_uid;   /* highest UID saved */
	unsigned long long copied;
	int error;
	struct buf err;
};

static int on_fetch(void *arg, const struct imapc_resp *r)
{
	struct fetch_ctx *f = arg;
	if (f->error != 0)
		return 0;
	struct imapc_lex l;
	imapc_lex_init(&l, r);
	uint32_t uid = 0, flags = 0;
	long long idate = 0;
	int itz = 0;
	char *kws[MAIL_MAX_KEYWORDS];
	size_t nk = 0;
	const char *body = NULL;
	size_t body_len = 0;
	struct buf body_copy = BUF_INIT;
	bool have_body = false;
	if (imapc_lex_next(&l) != IMAPC_T_ATOM || imapc_lex_next(&l) != IMAPC_T_ATOM ||
	    imapc_lex_next(&l) != IMAPC_T_ATOM || strcasecmp(l.tok.data, "FETCH") != 0 ||
	    imapc_lex_next(&l) != IMAPC_T_OPEN)
		goto out;
	enum imapc_tok t;
	while ((t = imapc_lex_next(&l)) == IMAPC_T_ATOM) {
		char item[64];
		snprintf(item, sizeof(item), "%s", l.tok.data);
		t = imapc_lex_next(&l);
		if (strcasecmp(item, "UID") == 0 && t == IMAPC_T_ATOM) {
			uid = (uint32_t)strtoul(l.tok.data, NULL, 10);
		} else if (strcasecmp(item, "FLAGS") == 0 && t == IMAPC_T_OPEN) {
			while ((t = imapc_lex_next(&l)) == IMAPC_T_ATOM) {
				const char *fl = l.tok.data;
				if (strcasecmp(fl, "\\Seen") == 0)
					flags |= MAIL_SEEN;
				else if (strcasecmp(fl, "\\Answered") == 0)
					flags |= MAIL_ANSWERED;
				else if (strcasecmp(fl, "\\Flagged") == 0)
					flags |= MAIL_FLAGGED;
				else if (strcasecmp(fl, "\\Deleted") == 0)
					flags |= MAIL_DELETED;
				else if (strcasecmp(fl, "\\Draft") == 0)
					flags |= MAIL_DRAFT;
				else if (fl[0] != '\\' && nk < MAIL_MAX_KEYWORDS)
					kws[nk++] = om_strdup(fl);
			}
		} else if (strcasecmp(item, "INTERNALDATE") == 0 && t == IMAPC_T_STRING) {
			if (!imap_parse_datetime(l.tok.data, &idate, &itz))
				idate = 0;
		} else if ((strcasecmp(item, "BODY[]") == 0 || strcasecmp(item, "RFC822") == 0) &&
			   t == IMAPC_T_STRING) {
			if (l.is_literal) {
				body = l.lit;
				body_len = l.lit_len;
			} else {
				buf_append(&body_copy, l.tok.data, l.tok.len);
				body = body_copy.data;
				body_len = body_copy.len;
			}
			have_body = true;
		} else {
			imapc_lex_skip(&l, t);
		}
	}
	if (uid == 0 || !have_body) {
		log_warn("import imap: mailbox %s: a FETCH answer without UID or BODY[] ignored",
			 f->box->remote);
		goto out;
	}
	int ret = import_append(f->j->user, f->box->local, body != NULL ? body : "", body_len,
				flags, kws, nk, idate, itz, f->keep, uid);
	if (ret < 0) {
		buf_printf(&f->err, "user %s, mailbox %s: saving source UID %u: %s",
			   mail_user_name(f->j->user), f->box->local, uid, om_strerror(ret));
		f->error = ret;
	} else {
		if (uid > f->last_uid)
			f->last_uid = uid;
		f->copied++;
		cli_progress_add(f->j->prog, 1);
		if (cli_progress_cancelled(f->j->prog)) {
			buf_printf(&f->err, "user %s, mailbox %s: " IMPORT_CANCELLED,
				   mail_user_name(f->j->user), f->box->local);
			f->error = -OM_EIO;
		}
	}
out:
	for (size_t i = 0; i < nk; i++)
		free(kws[i]);
	buf_free(&body_copy);
	imapc_lex_free(&l);
	return 0;
}

static void state_key(const struct job *j, const struct src_box *b, struct buf *k)
{
	buf_printf(k, "import-imap/%s/%s/%s", j->url->host, j->url->user, b->local);
}

static int copy_box(struct job *j, struct imapc *c, const struct src_box *b)
{
	struct buf err = BUF_INIT, cmd = BUF_INIT, key = BUF_INIT, val = BUF_INIT;
	struct examine_ctx e = { 0 };
	struct fetch_ctx f = { .j = j, .box = b, .err = BUF_INIT };
	buf_append_str(&cmd, "EXAMINE ");
	imapc_quote(&cmd, b->remote);
	int ret = imapc_cmd(c, cmd.data, on_examine, &e, &err);
	if (ret < 0)
		goto out;

	/* where did the last run stop? */
	uint32_t start = 1;
	state_key(j, b, &key);
	if (mail_user_meta_get(j->user, key.data, &val) == 0) {
		unsigned long uv = 0, last = 0;
		if (sscanf(buf_cstr(&val), "%lu %lu", &uv, &last) == 2) {
			if (uv == e.uidvalidity)
				start = (uint32_t)last + 1;
			else
				log_warn("import imap: %s: the source's UIDVALIDITY changed (%lu -> %u): "
					 "copying the whole mailbox again", b->local, uv,
					 e.uidvalidity);
		}
	}
	bool keep = false;
	ret = import_prepare_mailbox(j->user, b->local, start == 1 ? e.uidvalidity : 0, &keep,
				     &err);
	if (ret < 0)
		goto out;
	if (start > 1) {
		/* resumed: UIDs were kept if the target carries the source's UIDVALIDITY */
		struct mailbox_status st;
		keep = mail_user_mailbox_status(j->user, b->local, &st) == 0 &&
		       st.uidvalidity == e.uidvalidity;
	}
	f.keep = keep;
	e.min_uid = start;
	buf_reset(&cmd);
	buf_printf(&cmd, "UID SEARCH UID %u:*", start);
	ret = imapc_cmd(c, cmd.data, on_search, &e, &err);
	if (ret < 0)
		goto out;
	if (e.too_many) {
		buf_printf(&err, "more than %u messages", IMPORT_MAX_UIDS);
		ret = -OM_ELIMIT;
		goto out;
	}
	if (e.n > 0)
		qsort(e.uids, e.n, sizeof(*e.uids), cmp_u32);
	pthread_mutex_lock(&j->lock);
	j->total += e.n;
	cli_progress_grow(j->prog, e.n);
	if (keep)
		j->st->uids_kept++;
	pthread_mutex_unlock(&j->lock);
	for (size_t i = 0; i < e.n && ret == 0; i += IMPORT_BATCH) {
		size_t hi = i + IMPORT_BATCH < e.n ? i + IMPORT_BATCH : e.n;
		buf_reset(&cmd);
		/* the UIDs of the search are all there is in [lo, hi] */
		buf_printf(&cmd, "UID FETCH %u:%u (UID FLAGS INTERNALDATE BODY.PEEK[])", e.uids[i],
			   e.uids[hi - 1]);
		ret = imapc_cmd(c, cmd.data, on_fetch, &f, &err);
		if (ret == 0 && f.error != 0) {
			ret = f.error;
			buf_append(&err, f.err.data, f.err.len);
		}
		if (f.last_uid >= start) {
			buf_reset(&val);
			buf_printf(&val, "%u %u", e.uidvalidity, f.last_uid);
			if (mail_user_meta_set(j->user, key.data, val.data) < 0)
				log_warn("import imap: %s: saving the resume point failed", b->local);
		}
	}
	if (ret == 0 && f.last_uid < start && start == 1) {
		/* nothing copied: remember the mailbox as seen */
		buf_reset(&val);
		buf_printf(&val, "%u 0", e.uidvalidity);
		(void)mail_user_meta_set(j->user, key.data, val.data);
	}
	pthread_mutex_lock(&j->lock);
	j->st->mailboxes++;
	j->st->messages += f.copied;
	pthread_mutex_unlock(&j->lock);
out:
	if (ret < 0) {
		pthread_mutex_lock(&j->lock);
		if (j->error == 0) {
			j->error = ret;
			if (strncmp(buf_cstr(&err), "user ", 5) == 0)
				buf_append(&j->err, err.data, err.len);
			else
				buf_printf(&j->err, "user %s, mailbox %s: %s", mail_user_name(j->user),
					   b->local, buf_cstr(&err));
		}
		pthread_mutex_unlock(&j->lock);
	}
	free(e.uids);
	buf_free(&f.err);
	buf_free(&err);
	buf_free(&cmd);
	buf_free(&key);
	buf_free(&val);
	return ret;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	struct imapc *c = NULL;
	struct buf err = BUF_INIT;
	for (;;) {
		pthread_mutex_lock(&j->lock);
		bool stop = j->error != 0 || j->next >= j->n_boxes;
		size_t i = j->next++;
		pthread_mutex_unlock(&j->lock);
		if (stop)
			break;
		if (c == NULL && imapc_connect(j->url, &c, &err) < 0) {
			pthread_mutex_lock(&j->lock);
			if (j->error == 0) {
				j->error = -OM_ETEMP;
				buf_printf(&j->err, "user %s: %s", mail_user_name(j->user),
					   buf_cstr(&err));
			}
			pthread_mutex_unlock(&j->lock);
			break;
		}
		if (copy_box(j, c, &j->boxes[i]) < 0)
			break;
	}
	if (c != NULL) {
		struct buf e2 = BUF_INIT;
		(void)imapc_cmd(c, "LOGOUT", NULL, NULL, &e2);
		buf_free(&e2);
		imapc_close(c);
	}
	buf_free(&err);
	return NULL;
}

int import_imap(struct mail_user *user, const char *url, unsigned threads,
		struct import_stats *st, struct buf *err)
{
	struct imapc_url u;
	struct buf e = BUF_INIT;
	int ret = imapc_url_parse(url, &u, &e);
	if (ret < 0) {
		buf_printf(err, "user %s: %s", mail_user_name(user), buf_cstr(&e));
		buf_free(&e);
		imapc_url_free(&u);
		return ret;
	}
	struct job j = { .user = user, .url = &u, .st = st, .err = BUF_INIT };
	pthread_mutex_init(&j.lock, NULL);
	struct imapc *c;
	ret = imapc_connect(&u, &c, &e);
	if (ret == 0) {
		struct list_ctx lc = { .j = &j };
		ret = imapc_cmd(c, "LIST \"\" \"*\"", on_list, &lc, &e);
		lc.lsub = true;
		if (ret == 0 && imapc_cmd(c, "LSUB \"\" \"*\"", on_list, &lc, &e) < 0)
			log_warn("import imap: LSUB failed; subscriptions not copied");
		struct buf e2 = BUF_INIT;
		(void)imapc_cmd(c, "LOGOUT", NULL, NULL, &e2);
		buf_free(&e2);
		imapc_close(c);
	}
	if (ret < 0) {
		buf_printf(err, "user %s: source %s: %s", mail_user_name(user), u.host, buf_cstr(&e));
		goto out;
	}
	char **before = NULL;
	size_t n_before = 0;
	if (import_names_before(user, &before, &n_before) < 0)
		n_before = 0;
	j.prog = cli_progress_new("import imap", 0);
	if (threads > j.n_boxes)
		threads = j.n_boxes > 0 ? (unsigned)j.n_boxes : 1;
	pthread_t tids[32];
	unsigned started = 0;
	for (unsigned i = 0; i < threads && i < 32; i++) {
		if (pthread_create(&tids[started], NULL, worker, &j) == 0)
			started++;
	}
	if (started == 0)
		worker(&j);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	cli_progress_done(j.prog);
	ret = j.error;
	if (ret == 0) {
		char **src = om_calloc(j.n_boxes + 1, sizeof(char *));
		for (size_t i = 0; i < j.n_boxes; i++)
			src[i] = j.boxes[i].local;
		import_drop_parents(user, before, n_before, src, j.n_boxes);
		free(src);
	}
	for (size_t i = 0; i < n_before; i++)
		free(before[i]);
	free(before);
	if (ret < 0) {
		buf_append(err, j.err.data, j.err.len);
	} else {
		for (size_t i = 0; i < j.n_subs; i++)
			if (mail_user_subscribe(user, j.subs[i], true) < 0)
				log_warn("import imap: subscribing %s failed", j.subs[i]);
	}
out:
	for (size_t i = 0; i < j.n_boxes; i++) {
		free(j.boxes[i].remote);
		free(j.boxes[i].local);
	}
	free(j.boxes);
	for (size_t i = 0; i < j.n_subs; i++)
		free(j.subs[i]);
	free(j.subs);
	pthread_mutex_destroy(&j.lock);
	buf_free(&j.err);
	buf_free(&e);
	imapc_url_free(&u);
	return ret;
}
