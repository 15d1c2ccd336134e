/* SEARCH and UID SEARCH (RFC 3501 6.4.4): the program (imap-search.c)
 * evaluated over the session's view. A message is read and MIME-parsed only
 * when a key needs its contents, and then at most once. */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-condstore.h"
#include "imap/imap-esearch.h"
#include "imap/imap-fts.h"
#include "imap/imap-search.h"
#include "imap/imap-search-loader.h"
#include "imap/imap-session.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "mime/mime.h"
#include "storage/mail-storage.h"

bool imap_search_match_msg(struct imap_session *s, struct search_program *prog, size_t idx,
			   int *error_r)
{
	const struct imap_msg *im = &s->view.msgs[idx];
	struct search_loader loader;
	search_loader_init(&loader, s->box);
	search_loader_reset(&loader, im->uid, im->expunged);
	struct search_source src;
	search_loader_source(&loader, &src);
	struct search_msg m = {
		.seq = (uint32_t)(idx + 1),
		.uid = im->uid,
		.flags = im->flags,
		.keywords = im->keywords,
		.size = im->size,
		.internal_date = im->internal_date,
		.internal_tz = im->internal_tz,
		.modseq = im->modseq,
	};
	/* content keys from the full-text index; the loader is its fallback */
	struct imap_fts_src fts;
	imap_fts_src_init(&fts, s, im, &src);
	bool match = search_program_match(prog, &m, &fts.src);
	imap_fts_src_deinit(&fts);
	/* expunged by another session meanwhile: not a match, not an error */
	int error = loader.error == -OM_ENOTFOUND ? 0 : loader.error;
	search_loader_deinit(&loader);
	*error_r = error;
	return match && error == 0;
}

/* The reply for the matches (UIDs, view order) and their modseqs. */
static void send_result(struct imap_session *s, const struct esearch_options *opts,
			const uint32_t *uids, const uint64_t *modseqs, size_t n, bool with_modseq)
{
	if (opts->esearch) {
		esearch_send(s, opts, uids, modseqs, n, with_modseq);
		return;
	}
	struct buf line = BUF_INIT;
	uint64_t best = 0;
	buf_append_str(&line, "* SEARCH");
	for (size_t i = 0; i < n; i++) {
		if (s->cmd_uid) {
			buf_printf(&line, " %u", uids[i]);
		} else {
			long idx = imap_view_find_uid(s, uids[i]);
			buf_printf(&line, " %ld", idx + 1);
		}
		if (modseqs[i] > best)
			best = modseqs[i];
	}
	/* RFC 7162 3.1.5: the highest modseq of the matches, if any */
	if (with_modseq && n > 0)
		buf_printf(&line, " (MODSEQ %llu)", (unsigned long long)best);
	buf_append(&line, "\r\n", 2);
	imap_send_buf(s, &line);
	buf_free(&line);
}

/* SEARCHRES: what "$" stands for now (RFC 5182 2.4: with MIN/MAX only
 * those). */
static void save_result(struct imap_session *s, const struct esearch_options *opts,
			const uint32_t *uids, size_t n)
{
	free(s->searchres);
	s->searchres = om_reallocarray(NULL, n > 0 ? n : 1, sizeof(*s->searchres));
	s->n_searchres = 0;
	unsigned minmax = opts->ret & (ESEARCH_MIN | ESEARCH_MAX);
	bool only_minmax = minmax != 0 &&
		(opts->ret & (ESEARCH_ALL | ESEARCH_COUNT | ESEARCH_PARTIAL)) == 0;
	for (size_t i = 0; i < n; i++) {
		if (only_minmax && !(((minmax & ESEARCH_MIN) != 0 && i == 0) ||
				     ((minmax & ESEARCH_MAX) != 0 && i == n - 1)))
			continue;
		s->searchres[s->n_searchres++] = uids[i];
	}
}

static void clear_saved(struct imap_session *s)
{
	free(s->searchres);
	s->searchres = NULL;
	s->n_searchres = 0;
}

void cmd_search(struct imap_session *s, struct imap_command *cmd)
{
	const struct imap_arg *args = cmd->args;
	size_t n_args = cmd->n_args, used = 0;
	const char *error, *atom;
	struct search_program *prog;
	struct esearch_options opts;

	/* "UID SEARCH ..." if the core passed the command as parsed */
	if (strcmp(cmd->name, "UID") == 0 && n_args > 0 && imap_arg_get_atom(&args[0], &atom) &&
	    om_str_ieq(atom, "SEARCH")) {
		args++;
		n_args--;
	}
	if (!esearch_parse_return(args, n_args, &opts, &used, &error)) {
		imap_cmd_bad(s, "Error in IMAP command SEARCH: %s", error);
		return;
	}
	args += used;
	n_args -= used;
	if (s->enabled_rev2 && !opts.esearch) {
		/* IMAP4rev2 (RFC 9051 6.4.4): ESEARCH, ALL when nothing asked */
		opts.esearch = true;
		opts.ret |= ESEARCH_ALL;
	}
	bool save = (opts.ret & ESEARCH_SAVE) != 0;
	bool update = (opts.ret & ESEARCH_UPDATE) != 0;
	if (update && imap_search_context_exists(s, cmd->tag)) {
		imap_cmd_bad(s, "Error in IMAP command SEARCH: Tag already names a search context");
		return;
	}

	switch (search_program_parse(args, n_args, &prog, &error)) {
	case SEARCH_PARSE_OK:
		break;
	case SEARCH_PARSE_BADCHARSET:
		/* RFC 5182 2.1: a NO empties "$", a BAD leaves it */
		if (save)
			clear_saved(s);
		imap_cmd_no(s, "%s", error);
		return;
	case SEARCH_PARSE_BAD:
	default:
		imap_cmd_bad(s, "Error in IMAP command SEARCH: %s", error);
		return;
	}
	if (s->enabled_rev2 && search_program_uses_recent(prog)) {
		/* RFC 9051 removed \Recent and with it these keys */
		imap_cmd_bad(s, "Error in IMAP command SEARCH: NEW, OLD and RECENT are not "
				"IMAP4rev2 search keys");
		search_program_free(prog);
		return;
	}

	const struct imap_view *v = &s->view;
	uint32_t max_uid = v->count > 0 ? v->msgs[v->count - 1].uid : 0;
	/* an empty mailbox answers an empty result, as Dovecot does */
	if (!search_program_bind(prog, v->keywords, v->n_keywords, (uint32_t)v->count, max_uid,
				 &error) && v->count > 0) {
		imap_cmd_bad(s, "Error in IMAP command SEARCH: %s", error);
		search_program_free(prog);
		return;
	}
	search_program_bind_saved(prog, s->searchres, s->n_searchres);
	bool with_modseq = search_program_has_modseq(prog);
	if (with_modseq)
		imap_condstore_enable(s);

	uint32_t *uids = om_calloc(v->count > 0 ? v->count : 1, sizeof(*uids));
	uint64_t *modseqs = om_calloc(v->count > 0 ? v->count : 1, sizeof(*modseqs));
	size_t n = 0;
	int error_code = 0;
	for (size_t i = 0; i < v->count; i++) {
		if (imap_search_match_msg(s, prog, i, &error_code)) {
			uids[n] = v->msgs[i].uid;
			modseqs[n++] = v->msgs[i].modseq;
		}
		if (error_code != 0)
			break;
	}

	if (error_code != 0) {
		log_warn("SEARCH: reading a message of %s failed: %s", mailbox_name(s->box),
			 om_strerror(error_code));
		if (save)
			clear_saved(s);
		imap_cmd_storage_error(s, error_code, "SEARCH");
	} else {
		send_result(s, &opts, uids, modseqs, n, with_modseq);
		if (save)
			save_result(s, &opts, uids, n);
		if (update && (opts.ret & ESEARCH_PARTIAL) != 0) {
			/* keeping a window of a changing result current is not
			 * done here (RFC 5267 allows refusing) */
			struct buf line = BUF_INIT;
			buf_append_str(&line, "* NO [NOUPDATE ");
			imap_write_string(&line, cmd->tag, strlen(cmd->tag));
			buf_append_str(&line, "] No updates for PARTIAL results\r\n");
			imap_send_buf(s, &line);
			buf_free(&line);
		} else if (update && imap_search_context_add(s, prog, uids, n)) {
			prog = NULL; /* the context owns it */
		}
		imap_cmd_ok(s, "SEARCH completed");
	}
	search_program_free(prog);
	free(uids);
	free(modseqs);
}
