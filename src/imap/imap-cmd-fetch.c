/* FETCH and UID FETCH (RFC 3501 6.4.5, 7.4.2): render the parsed items
 * (imap-fetch.c) for each message of the set.
 *
 * What the view holds (UID, FLAGS, INTERNALDATE, RFC822.SIZE) never opens
 * the message; ENVELOPE/BODY/BODYSTRUCTURE come from the index cache when
 * present; only body sections (or a cache miss) open and parse it. Body data
 * is always sent as a literal, as Dovecot does; big ones go out straight
 * from the message buffer instead of being copied into the response. */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-condstore.h"
#include "imap/imap-fetch.h"
#include "imap/imap-session.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "mime/mime.h"
#include "storage/mail-storage.h"

/* Bodies at least this big are written from the message buffer directly. */
#define FETCH_DIRECT_MIN (32 * 1024)
/* Flush the response buffer between messages once it grows past this. */
#define FETCH_FLUSH_MIN (64 * 1024)
/* Output queued for the client before FETCH waits for it to drain, so a
 * FETCH 1:* BODY[] of a big mailbox does not pile up in memory. */
#define FETCH_MAX_PENDING (1024 * 1024)
/* Bodies of this many messages are fetched ahead together (obox reads
 * them from the object store in parallel into its cache). */
#define FETCH_PREFETCH_WINDOW 64

enum structure_kind { STRUCT_ENVELOPE, STRUCT_BODY, STRUCT_BODYSTRUCTURE, STRUCT_COUNT };

static const char *const structure_cache_field[STRUCT_COUNT] = {
	"envelope", "body", "bodystructure",
};

struct fetch_ctx {
	struct imap_session *s;
	struct imap_fetch_request req;

	/* the current message */
	uint32_t uid;
	bool opened;
	struct mail_data md;
	struct mime_message *mime;
	struct buf structure[STRUCT_COUNT];
	bool have_structure[STRUCT_COUNT];
	struct buf tmp;    /* HEADER.FIELDS output */
	struct buf nonul;  /* a section with its NULs replaced */
	bool first_item;
	bool flushed;      /* output was handed to the connection */

	bool expunged_seen; /* some message asked for could not be read */
	bool add_modseq;    /* MODSEQ not asked for but due (RFC 7162 3.1.4.1) */
};

/* BAD the way Dovecot words it. */
static void cmd_bad_text(struct imap_session *s, const char *text)
{
	imap_cmd_bad(s, "Error in IMAP command %s%s: %s", s->cmd_uid ? "UID " : "",
		     s->cmd != NULL && s->cmd->name != NULL ? s->cmd->name : "", text);
}

static int msg_open(struct fetch_ctx *ctx)
{
	if (ctx->opened)
		return 0;
	int ret = mailbox_msg_open(ctx->s->box, ctx->uid, &ctx->md);
	if (ret < 0)
		return ret;
	ctx->opened = true;
	return 0;
}

static int msg_parse(struct fetch_ctx *ctx)
{
	if (ctx->mime != NULL)
		return 0;
	int ret = msg_open(ctx);
	if (ret < 0)
		return ret;
	ctx->mime = mime_parse(ctx->md.data, ctx->md.len);
	return 0;
}

static void msg_release(struct fetch_ctx *ctx)
{
	if (ctx->mime != NULL) {
		mime_free(ctx->mime);
		ctx->mime = NULL;
	}
	if (ctx->opened) {
		mail_data_release(&ctx->md);
		ctx->opened = false;
	}
	for (int k = 0; k < STRUCT_COUNT; k++)
		ctx->have_structure[k] = false;
}

static enum structure_kind structure_of(enum imap_fetch_kind kind)
{
	return kind == IMAP_FETCH_ENVELOPE ? STRUCT_ENVELOPE :
		kind == IMAP_FETCH_BODY ? STRUCT_BODY : STRUCT_BODYSTRUCTURE;
}

/* ENVELOPE/BODY/BODYSTRUCTURE of the current message: from the cache,
 * else computed and cached. */
static int get_structure(struct fetch_ctx *ctx, enum structure_kind k)
{
	if (ctx->have_structure[k])
		return 0;
	struct buf *b = &ctx->structure[k];
	buf_reset(b);
	if (mailbox_cache_get(ctx->s->box, ctx->uid, structure_cache_field[k], b) == 0 &&
	    b->len > 0) {
		ctx->have_structure[k] = true;
		return 0;
	}
	int ret = msg_parse(ctx);
	if (ret < 0)
		return ret;
	buf_reset(b);
	if (k == STRUCT_ENVELOPE)
		mime_envelope(ctx->mime, &ctx->mime->root, b);
	else
		mime_bodystructure(ctx->mime, &ctx->mime->root, k == STRUCT_BODYSTRUCTURE, b);
	mailbox_cache_put(ctx->s->box, ctx->uid, structure_cache_field[k], b->data, b->len);
	ctx->have_structure[k] = true;
	return 0;
}

/* The part a section path names, as Dovecot 2.3 resolves it: numbers pick
 * children of a multipart; after a message/rfc822 part they go on inside
 * the embedded message; a non-multipart part takes one "1" meaning itself
 * (BODY[1] of a single-part message, BODY[1.1] of a leaf), no more. The
 * message itself is the root, so the first number never enters a
 * top-level message/rfc822: BODY[1] of it is its whole body.
 * (mime_part_by_path differs on these points, so it is not used here.) */
static const struct mime_part *part_by_path(const struct mime_message *msg,
					    const unsigned *path, size_t n)
{
	const struct mime_part *part = &msg->root;
	bool self_used = false;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && part->is_message_rfc822 && part->n_children == 1) {
			part = &part->children[0];
			self_used = false;
		}
		if (part->is_multipart) {
			if (path[i] == 0 || path[i] > part->n_children)
				return NULL;
			part = &part->children[path[i] - 1];
			self_used = false;
		} else if (path[i] == 1 && !self_used) {
			self_used = true;
		} else {
			return NULL;
		}
	}
	return part;
}

/* The root header's length (blank line included), found the way the MIME
 * parser finds it, so header-only fetches need no full parse. */
static size_t root_header_len(const char *d, size_t len)
{
	size_t pos = 0;
	while (pos < len) {
		if (d[pos] == '\n')
			return pos + 1;
		if (d[pos] == '\r' && pos + 1 < len && d[pos + 1] == '\n')
			return pos + 2;
		const char *nl = memchr(d + pos, '\n', len - pos);
		if (nl == NULL)
			break;
		pos = (size_t)(nl - d) + 1;
	}
	return len;
}

static bool needs_parse(const struct imap_fetch_item *it)
{
	return it->path_len > 0 || it->binary || it->binary_size;
}

/* The bytes of a body section of the current message (empty if the part
 * or the section does not exist, as Dovecot answers). */
static int section_data(struct fetch_ctx *ctx, const struct imap_fetch_item *it,
			const char **data_r, size_t *len_r)
{
	*data_r = "";
	*len_r = 0;
	int ret = needs_parse(it) ? msg_parse(ctx) : msg_open(ctx);
	if (ret < 0)
		return ret;
	const char *msg = ctx->md.data;
	const struct mime_part *part, *hdr_part;
	struct mime_part root;

	if (it->path_len == 0) {
		if (it->spec == IMAP_SECTION_ALL) {
			*data_r = msg;
			*len_r = ctx->md.len;
			return 0;
		}
		memset(&root, 0, sizeof(root));
		root.hdr_len = root_header_len(msg, ctx->md.len);
		root.body_off = root.hdr_len;
		root.body_len = ctx->md.len - root.hdr_len;
		part = hdr_part = &root;
	} else {
		part = part_by_path(ctx->mime, it->path, it->path_len);
		if (part == NULL)
			return 0;
		/* HEADER, TEXT and HEADER.FIELDS after a part number name the
		 * message inside a message/rfc822 part, and nothing else. */
		hdr_part = part->is_message_rfc822 && part->n_children > 0 ?
			&part->children[0] : NULL;
	}

	switch (it->spec) {
	case IMAP_SECTION_ALL:
		*data_r = msg + part->body_off;
		*len_r = part->body_len;
		break;
	case IMAP_SECTION_MIME:
		*data_r = msg + part->hdr_off;
		*len_r = part->hdr_len;
		break;
	case IMAP_SECTION_HEADER:
		if (hdr_part != NULL) {
			*data_r = msg + hdr_part->hdr_off;
			*len_r = hdr_part->hdr_len;
		}
		break;
	case IMAP_SECTION_TEXT:
		if (hdr_part != NULL) {
			*data_r = msg + hdr_part->body_off;
			*len_r = hdr_part->body_len;
		}
		break;
	case IMAP_SECTION_HEADER_FIELDS:
	case IMAP_SECTION_HEADER_FIELDS_NOT:
		if (hdr_part != NULL) {
			buf_reset(&ctx->tmp);
			mime_header_fields(msg + hdr_part->hdr_off, hdr_part->hdr_len,
					   (const char *const *)it->fields, it->n_fields,
					   it->spec == IMAP_SECTION_HEADER_FIELDS_NOT, &ctx->tmp);
			*data_r = buf_cstr(&ctx->tmp);
			*len_r = ctx->tmp.len;
		}
		break;
	}
	return 0;
}

static void item_sep(struct fetch_ctx *ctx, struct buf *out)
{
	if (!ctx->first_item)
		buf_append_c(out, ' ');
	ctx->first_item = false;
}

static void write_view_item(struct fetch_ctx *ctx, size_t idx, const struct imap_fetch_item *it,
			    struct buf *out)
{
	const struct imap_msg *m = &ctx->s->view.msgs[idx];
	item_sep(ctx, out);
	switch (it->kind) {
	case IMAP_FETCH_UID:
		buf_printf(out, "UID %u", m->uid);
		break;
	case IMAP_FETCH_FLAGS:
		buf_append_str(out, "FLAGS ");
		imap_view_write_flags(ctx->s, idx, out);
		break;
	case IMAP_FETCH_INTERNALDATE:
		buf_append_str(out, "INTERNALDATE ");
		imap_write_datetime(out, m->internal_date, m->internal_tz);
		break;
	case IMAP_FETCH_RFC822_SIZE:
		buf_printf(out, "RFC822.SIZE %llu", (unsigned long long)m->size);
		break;
	case IMAP_FETCH_MODSEQ:
		buf_printf(out, "MODSEQ (%llu)", (unsigned long long)m->modseq);
		break;
	default:
		om_assert(false);
	}
}

/* BINARY[..] / BINARY.SIZE[..] (RFC 3516; the rules in imap-fetch-binary.c) */
static int write_binary(struct fetch_ctx *ctx, const struct imap_fetch_item *it,
			struct buf *out)
{
	int ret = msg_parse(ctx);
	if (ret < 0)
		return ret;
	const struct mime_part *part =
		it->path_len > 0 ? part_by_path(ctx->mime, it->path, it->path_len) : NULL;
	const char *data = ctx->md.data;
	size_t len = it->path_len > 0 ? 0 : ctx->md.len;
	if (part != NULL) {
		imap_fetch_binary_decode(ctx->mime, part, &ctx->tmp);
		data = buf_cstr(&ctx->tmp);
		len = ctx->tmp.len;
	}
	item_sep(ctx, out);
	imap_fetch_binary_write(it, &data, &len, out);
	if (len >= FETCH_DIRECT_MIN) {
		imap_send_buf(ctx->s, out);
		buf_reset(out);
		imap_send_raw(ctx->s, data, len);
		ctx->flushed = true;
	} else {
		buf_append(out, data, len);
	}
	return 0;
}

static int write_section(struct fetch_ctx *ctx, const struct imap_fetch_item *it,
			 struct buf *out)
{
	const char *data;
	size_t len;
	if (it->binary || it->binary_size)
		return write_binary(ctx, it, out);
	int ret = section_data(ctx, it, &data, &len);
	if (ret < 0)
		return ret;
	if (it->partial) {
		if (it->origin >= len) {
			len = 0;
		} else {
			data += it->origin;
			len -= (size_t)it->origin;
			if (it->count < len)
				len = (size_t)it->count;
		}
	}
	if (len > 0 && memchr(data, '\0', len) != NULL) {
		/* a literal may not hold NUL (RFC 3501 9); Dovecot sends 0x80 */
		buf_reset(&ctx->nonul);
		buf_append(&ctx->nonul, data, len);
		for (size_t i = 0; i < len; i++)
			if (ctx->nonul.data[i] == '\0')
				ctx->nonul.data[i] = (char)0x80;
		data = ctx->nonul.data;
	}
	item_sep(ctx, out);
	buf_printf(out, "%s {%zu}\r\n", it->name, len);
	if (len >= FETCH_DIRECT_MIN) {
		imap_send_buf(ctx->s, out);
		buf_reset(out);
		imap_send_raw(ctx->s, data, len);
		ctx->flushed = true;
	} else {
		buf_append(out, data, len);
	}
	return 0;
}

/* Everything that can fail (the message is gone) happens before the first
 * byte of the response, so a failed message writes nothing. */
static int prepare_message(struct fetch_ctx *ctx)
{
	const struct imap_fetch_request *req = &ctx->req;
	int ret;
	for (size_t i = req->n_view_items; i < req->n_items; i++) {
		const struct imap_fetch_item *it = &req->items[i];
		if (it->kind == IMAP_FETCH_SECTION) {
			ret = needs_parse(it) ? msg_parse(ctx) : msg_open(ctx);
		} else {
			ret = get_structure(ctx, structure_of(it->kind));
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* What an expunged message's structure items say when the cache has
 * nothing (Dovecot sends an empty ENVELOPE too). */
static const char *const gone_structure[STRUCT_COUNT] = {
	"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	"(\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0)",
	"(\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
};

/* A message expunged by another session but still in our view is answered
 * as Dovecot does (RFC 2180 4.1.2): what the view and the cache know, NIL
 * for its bytes, and OK [EXPUNGEISSUED] at the end. */
static int fetch_message(struct fetch_ctx *ctx, size_t idx, bool seen_added)
{
	struct imap_session *s = ctx->s;
	const struct imap_fetch_request *req = &ctx->req;
	const struct imap_msg *m = &s->view.msgs[idx];
	struct buf *out = &s->out;
	bool gone = m->expunged;
	int ret = 0;

	ctx->uid = m->uid;
	if (!gone && req->n_items > req->n_view_items) {
		ret = prepare_message(ctx);
		if (ret == -OM_ENOTFOUND) {
			gone = true;
			ret = 0;
		} else if (ret < 0) {
			msg_release(ctx);
			return ret;
		}
	}
	if (gone && req->n_items > req->n_view_items)
		ctx->expunged_seen = true;

	buf_printf(out, "* %zu FETCH (", idx + 1);
	ctx->first_item = true;
	for (size_t i = 0; i < req->n_view_items; i++)
		write_view_item(ctx, idx, &req->items[i], out);
	if (seen_added && !req->want_flags) {
		/* RFC 3501 6.4.5: the \Seen change is reported with the data */
		item_sep(ctx, out);
		buf_append_str(out, "FLAGS ");
		imap_view_write_flags(s, idx, out);
	}
	if (!req->want_modseq && (ctx->add_modseq || (seen_added && s->enabled_condstore))) {
		item_sep(ctx, out);
		buf_printf(out, "MODSEQ (%llu)", (unsigned long long)m->modseq);
	}
	for (size_t i = req->n_view_items; i < req->n_items && ret == 0; i++) {
		const struct imap_fetch_item *it = &req->items[i];
		if (it->kind == IMAP_FETCH_SECTION) {
			if (gone) {
				item_sep(ctx, out);
				buf_printf(out, "%s NIL", it->name);
			} else {
				ret = write_section(ctx, it, out);
			}
			continue;
		}
		enum structure_kind k = structure_of(it->kind);
		const char *data = NULL;
		size_t len = 0;
		if (!gone) {
			ret = get_structure(ctx, k);
		} else if (!ctx->have_structure[k]) {
			buf_reset(&ctx->structure[k]);
			if (mailbox_cache_get(s->box, ctx->uid, structure_cache_field[k],
					      &ctx->structure[k]) == 0 && ctx->structure[k].len > 0)
				ctx->have_structure[k] = true;
		}
		if (ctx->have_structure[k]) {
			data = ctx->structure[k].data;
			len = ctx->structure[k].len;
		} else if (gone) {
			data = gone_structure[k];
			len = strlen(data);
		}
		if (ret == 0) {
			item_sep(ctx, out);
			buf_append_str(out, it->name);
			buf_append_c(out, ' ');
			buf_append(out, data, len);
		}
	}
	/* prepare_message made the message ready, so nothing above fails
	 * now; close the response in any case to keep the stream well formed. */
	buf_append_str(out, ")\r\n");
	if (out->len >= FETCH_FLUSH_MIN) {
		imap_send_buf(s, out);
		buf_reset(out);
		ctx->flushed = true;
	}
	msg_release(ctx);
	return ret;
}

/* Set \Seen on the messages of idx[] that lack it; seen_added[i] tells
 * which ones changed. */
static int set_seen(struct imap_session *s, const uint32_t *idx, size_t n, bool *seen_added)
{
	uint32_t *uids = om_calloc(n, sizeof(*uids));
	size_t n_uids = 0;
	for (size_t i = 0; i < n; i++) {
		const struct imap_msg *m = &s->view.msgs[idx[i]];
		if ((m->flags & MAIL_SEEN) == 0 && !m->expunged)
			uids[n_uids++] = m->uid;
	}
	int ret = 0;
	if (n_uids > 0) {
		struct mail_rec *recs = NULL;
		size_t n_recs = 0;
		ret = mailbox_store(s->box, uids, n_uids, MAIL_FLAGS_ADD, MAIL_SEEN, NULL, 0,
				    &recs, &n_recs);
		if (ret == 0) {
			imap_view_apply_recs(s, recs, n_recs);
			/* idx[], uids[] and recs are all in UID order */
			size_t j = 0, k = 0;
			for (size_t i = 0; i < n && j < n_recs && k < n_uids; i++) {
				uint32_t uid = s->view.msgs[idx[i]].uid;
				if (uids[k] != uid)
					continue; /* had \Seen already */
				k++;
				while (j < n_recs && recs[j].uid < uid)
					j++;
				if (j < n_recs && recs[j].uid == uid)
					seen_added[i] = true;
			}
		}
		free(recs);
	}
	free(uids);
	return ret;
}

/* BAD for unparsable items; an unknown one is named, as Dovecot does. */
static void bad_fetch_args(struct imap_session *s, const struct imap_arg *args, size_t n_args,
			   const char *error)
{
	const struct imap_arg *list = args;
	size_t n = n_args;
	if (strcmp(error, "Unknown FETCH item") != 0 || n_args != 1)
		n = 0;
	else if (args[0].type == IMAP_ARG_LIST) {
		list = args[0].list;
		n = args[0].list_count;
	}
	for (size_t i = 0; i < n && i < IMAP_FETCH_MAX_ITEMS; i++) {
		struct imap_fetch_item item;
		const char *item_error;
		if (list[i].type != IMAP_ARG_ATOM || list[i].len > 100 ||
		    strchr(list[i].str, '[') != NULL)
			continue;
		if (imap_fetch_parse_item(list[i].str, list[i].len, &item, &item_error) == 0) {
			imap_fetch_item_clear(&item);
			continue;
		}
		struct buf text = BUF_INIT;
		buf_append_str(&text, "Unknown parameter: ");
		for (const char *p = list[i].str; *p != '\0'; p++)
			buf_append_c(&text, (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p);
		cmd_bad_text(s, buf_cstr(&text));
		buf_free(&text);
		return;
	}
	cmd_bad_text(s, error);
}

/* FETCH modifiers (RFC 7162 3.1.4, 3.2.6): "(CHANGEDSINCE n [VANISHED])". */
static bool parse_modifiers(struct imap_session *s, const struct imap_arg *arg,
			    uint64_t *changedsince_r, bool *vanished_r)
{
	const char *a;
	bool have_changedsince = false;
	for (size_t i = 0; i < arg->list_count; i++) {
		if (!imap_arg_get_atom(&arg->list[i], &a))
			goto bad;
		if (om_str_ieq(a, "CHANGEDSINCE") && !have_changedsince) {
			const char *num;
			if (i + 1 >= arg->list_count || !imap_arg_get_atom(&arg->list[i + 1], &num) ||
			    !imap_parse_modseq(num, false, changedsince_r))
				goto bad;
			have_changedsince = true;
			i++;
		} else if (om_str_ieq(a, "VANISHED") && !*vanished_r) {
			*vanished_r = true;
		} else {
			goto bad;
		}
	}
	if (*vanished_r && (!have_changedsince || !s->cmd_uid || !s->enabled_qresync)) {
		/* RFC 7162 3.2.6: only UID FETCH, with CHANGEDSINCE, once
		 * QRESYNC is enabled */
		cmd_bad_text(s, "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC");
		return false;
	}
	return true;
bad:
	cmd_bad_text(s, "Invalid FETCH modifiers");
	return false;
}

/* UID FETCH (CHANGEDSINCE m VANISHED): the UIDs of the set expunged since m
 * that the view no longer holds (those it still holds are reported by the
 * sync after the command). */
static int send_vanished_earlier(struct imap_session *s, const char *set, uint64_t modseq)
{
	struct seq_range *ranges = NULL;
	size_t n_ranges = 0;
	if (!imap_seqset_parse(set, &ranges, &n_ranges))
		return 0; /* resolving the set already accepted it: "$" */
	uint32_t *uids = NULL, forgot_max = 0;
	size_t n = 0;
	int ret = mailbox_vanished(s->box, modseq, &uids, &n, &forgot_max);
	if (ret == 0)
		imap_send_vanished_earlier(s, uids, n, forgot_max, ranges, n_ranges);
	free(uids);
	free(ranges);
	return ret;
}

/* RFC822, RFC822.HEADER, RFC822.TEXT (their response names are the item
 * names; RFC822.SIZE is a view item). */
static bool has_rfc822_item(const struct imap_fetch_request *req)
{
	for (size_t i = 0; i < req->n_items; i++) {
		const struct imap_fetch_item *it = &req->items[i];
		if (it->kind == IMAP_FETCH_SECTION && it->name != NULL &&
		    strncmp(it->name, "RFC822", 6) == 0)
			return true;
	}
	return false;
}

void cmd_fetch(struct imap_session *s, struct imap_command *cmd)
{
	const char *set, *error = NULL;
	if (cmd->n_args < 2 || !imap_arg_get_atom(&cmd->args[0], &set)) {
		cmd_bad_text(s, "Invalid arguments");
		return;
	}
	size_t n_item_args = cmd->n_args - 1;
	uint64_t changedsince = 0;
	bool have_changedsince = false, vanished = false;
	if (cmd->n_args == 3 && cmd->args[2].type == IMAP_ARG_LIST) {
		if (!parse_modifiers(s, &cmd->args[2], &changedsince, &vanished))
			return;
		have_changedsince = true;
		n_item_args = 1;
	}

	struct fetch_ctx ctx;
	memset(&ctx, 0, sizeof(ctx));
	ctx.s = s;
	if (imap_fetch_parse(&cmd->args[1], n_item_args, s->cmd_uid, &ctx.req, &error) < 0) {
		bad_fetch_args(s, &cmd->args[1], n_item_args, error);
		return;
	}
	if (s->enabled_rev2 && has_rfc822_item(&ctx.req)) {
		/* RFC 9051 removed them (Appendix E; "fetch-att" has only
		 * RFC822.SIZE): BODY[], BODY.PEEK[HEADER], BODY[TEXT] instead */
		imap_fetch_request_free(&ctx.req);
		cmd_bad_text(s, "RFC822, RFC822.HEADER and RFC822.TEXT are not IMAP4rev2 "
				"FETCH items (use BODY[], BODY.PEEK[HEADER], BODY[TEXT])");
		return;
	}

	uint32_t *idx = NULL;
	size_t n = 0;
	int ret = imap_view_resolve(s, set, s->cmd_uid, &idx, &n);
	if (ret < 0) {
		imap_fetch_request_free(&ctx.req);
		if (ret == -OM_EINVAL)
			cmd_bad_text(s, "Invalid messageset");
		else
			imap_cmd_storage_error(s, ret, "FETCH");
		return;
	}
	if (have_changedsince || ctx.req.want_modseq)
		imap_condstore_enable(s);
	/* RFC 7162 3.1.4.1: CHANGEDSINCE implies MODSEQ; other solicited
	 * FETCHes get only what they ask for (as Dovecot answers) */
	ctx.add_modseq = have_changedsince;
	if (have_changedsince) {
		/* only what changed after the client's modseq */
		size_t w = 0;
		for (size_t i = 0; i < n; i++)
			if (s->view.msgs[idx[i]].modseq > changedsince)
				idx[w++] = idx[i];
		n = w;
	}
	if (vanished) {
		ret = send_vanished_earlier(s, set, changedsince);
		if (ret < 0) {
			free(idx);
			imap_fetch_request_free(&ctx.req);
			imap_cmd_storage_error(s, ret, "FETCH");
			return;
		}
	}

	bool *seen_added = om_calloc(n > 0 ? n : 1, sizeof(bool));
	if (ctx.req.sets_seen && !s->readonly && n > 0) {
		ret = set_seen(s, idx, n, seen_added);
		if (ret < 0)
			log_warn("FETCH: setting \\Seen failed: %s", om_strerror(-ret));
		ret = 0;
	}

	buf_reset(&s->out);
	bool conn_lost = false;
	bool bodies = false;
	for (size_t i = ctx.req.n_view_items; i < ctx.req.n_items; i++)
		bodies |= ctx.req.items[i].kind == IMAP_FETCH_SECTION;
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (bodies && n > 1 && i % FETCH_PREFETCH_WINDOW == 0) {
			uint32_t uids[FETCH_PREFETCH_WINDOW];
			size_t k = 0;
			for (size_t j = i; j < n && k < FETCH_PREFETCH_WINDOW; j++)
				uids[k++] = s->view.msgs[idx[j]].uid;
			(void)mailbox_msg_prefetch(s->box, uids, k);
		}
		ret = fetch_message(&ctx, idx[i], seen_added[i]);
		if (ctx.flushed && s->conn != NULL) {
			ctx.flushed = false;
			if (conn_wait_output(s->conn, FETCH_MAX_PENDING) < 0) {
				conn_lost = true; /* nobody to write to any more */
				break;
			}
		}
	}
	if (s->out.len > 0) {
		imap_send_buf(s, &s->out);
		buf_reset(&s->out);
	}

	if (conn_lost)
		imap_cmd_no(s, "Connection lost");
	else if (ret < 0)
		imap_cmd_storage_error(s, ret, "FETCH");
	else if (ctx.expunged_seen)
		imap_cmd_ok(s, "[EXPUNGEISSUED] Some messages were already expunged.");
	else
		imap_cmd_ok(s, "Fetch completed.");

	free(seen_added);
	free(idx);
	for (int k = 0; k < STRUCT_COUNT; k++)
		buf_free(&ctx.structure[k]);
	buf_free(&ctx.tmp);
	buf_free(&ctx.nonul);
	imap_fetch_request_free(&ctx.req);
}
