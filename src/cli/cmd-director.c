/* objmail director status|map|add|remove|drain|undrain|weight: the backend
 * list in cluster/backends (objstore deployments; every director re-reads
 * it within seconds), or, with director_backends in the config, the
 * read-only view of that list. `status` asks a running director (its admin
 * socket) for health when it can. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "director/director.h"
#include "lib/om-error.h"
#include "objstore/objstore.h"

struct edit_ctx {
	const char *verb;
	const char *name;
	unsigned weight;
};

static int find_or_fail(struct director_backend *list, size_t n, const char *name,
			struct buf *why)
{
	int i = director_backend_find(list, n, name);
	if (i == -2)
		buf_printf(why, "%s matches several backends; give HOST:IMAPPORT", name);
	else if (i < 0)
		buf_printf(why, "no backend %s", name);
	return i;
}

static int edit(struct director_backend **list, size_t *n, void *arg, struct buf *why)
{
	struct edit_ctx *e = arg;
	int64_t now = (int64_t)time(NULL);
	if (strcmp(e->verb, "add") == 0) {
		struct director_backend b;
		if (director_backend_parse_addr(e->name, &b) != 0) {
			buf_printf(why, "bad address %s (HOST[:IMAPPORT[/LMTPPORT]])", e->name);
			return -OM_EINVAL;
		}
		if (director_backend_find(*list, *n, b.id) >= 0) {
			buf_printf(why, "backend %s exists", b.id);
			return -OM_EEXISTS;
		}
		if (*n >= DIRECTOR_MAX_BACKENDS) {
			buf_printf(why, "too many backends");
			return -OM_ELIMIT;
		}
		b.updated = now;
		*list = om_reallocarray(*list, *n + 1, sizeof(**list));
		(*list)[(*n)++] = b;
		return 0;
	}
	int i = find_or_fail(*list, *n, e->name, why);
	if (i < 0)
		return -OM_ENOTFOUND;
	struct director_backend *b = &(*list)[i];
	if (strcmp(e->verb, "remove") == 0) {
		memmove(b, b + 1, (*n - (size_t)i - 1) * sizeof(*b));
		(*n)--;
		return 0;
	}
	if (strcmp(e->verb, "drain") == 0)
		b->drained = true;
	else if (strcmp(e->verb, "undrain") == 0)
		b->drained = false;
	else if (strcmp(e->verb, "weight") == 0)
		b->weight = e->weight;
	b->updated = now;
	return 0;
}

static int open_store(struct cli_ctx *ctx, struct objstore **store_r)
{
	if (ctx->cfg.objstore == NULL || ctx->cfg.objstore[0] == '\0') {
		fprintf(stderr, "objmail: no objstore in %s: the backend list is director_backends "
				"(edit the config and reload the directors)\n",
			ctx->config_path);
		return CLI_FAIL;
	}
	char *err = NULL;
	int r = objstore_open(ctx->cfg.objstore, store_r, &err);
	if (r != 0) {
		fprintf(stderr, "objmail: objstore: %s\n", err != NULL ? err : om_strerror(r));
		free(err);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* The list as configured: cluster/backends, else director_backends. */
static int load_list(struct cli_ctx *ctx, struct director_backend **list_r, size_t *n_r)
{
	struct buf why = BUF_INIT;
	int r;
	if (ctx->cfg.objstore != NULL && ctx->cfg.objstore[0] != '\0') {
		struct objstore *store = NULL;
		if (open_store(ctx, &store) != CLI_OK)
			return CLI_FAIL;
		char etag[80];
		r = director_store_load(store, list_r, n_r, etag, &why);
		objstore_close(store);
	} else {
		r = director_backends_parse_config(ctx->cfg.director_backends, list_r, n_r, &why);
	}
	if (r != 0) {
		fprintf(stderr, "objmail: %s\n", buf_cstr(&why));
		buf_free(&why);
		return CLI_FAIL;
	}
	buf_free(&why);
	return CLI_OK;
}

static int do_edit(struct cli_ctx *ctx, struct edit_ctx *e)
{
	struct objstore *store = NULL;
	if (open_store(ctx, &store) != CLI_OK)
		return CLI_FAIL;
	struct buf why = BUF_INIT;
	int r = director_store_update(store, edit, e, &why);
	objstore_close(store);
	if (r != 0) {
		fprintf(stderr, "objmail: director %s %s: %s\n", e->verb, e->name, buf_cstr(&why));
		buf_free(&why);
		return CLI_FAIL;
	}
	buf_free(&why);
	printf("%s: %s done\n", e->name, e->verb);
	return CLI_OK;
}

static int status(struct cli_ctx *ctx, bool json)
{
	if (ctx->cfg.role == OM_ROLE_DIRECTOR && cli_admin_reachable(ctx)) {
		const char *req[2] = { "director-status", "text" };
		return cli_admin_print(ctx, req, json ? 1 : 2);
	}
	struct director_backend *list = NULL;
	size_t n = 0;
	if (load_list(ctx, &list, &n) != CLI_OK)
		return CLI_FAIL;
	struct buf out = BUF_INIT;
	if (json)
		buf_append_str(&out, "[");
	for (size_t i = 0; i < n; i++) {
		const struct director_backend *b = &list[i];
		if (json)
			buf_printf(&out,
				   "%s{\"id\":\"%s\",\"host\":\"%s\",\"imap_port\":%u,\"lmtp_port\":%u,"
				   "\"weight\":%u,\"state\":\"%s\",\"health\":\"unknown\","
				   "\"updated\":%lld}",
				   i > 0 ? "," : "", b->id, b->host, b->imap_port, b->lmtp_port,
				   b->weight, b->drained ? "drained" : "active",
				   (long long)b->updated);
		else
			buf_printf(&out, "%-24s imap %-5u lmtp %-5u weight %-5u %-8s (health: no "
					 "director reachable)\n",
				   b->id, b->imap_port, b->lmtp_port, b->weight,
				   b->drained ? "drained" : "active");
	}
	if (json)
		buf_append_str(&out, "]\n");
	free(list);
	bool ok = cli_write_stdout(&out);
	buf_free(&out);
	return ok ? CLI_OK : CLI_FAIL;
}

/* Computed as a director does, with every listed backend taken as healthy
 * (health is each director's own view). */
static int map(struct cli_ctx *ctx, const char *user, bool json)
{
	struct director_backend *list = NULL;
	size_t n = 0;
	if (load_list(ctx, &list, &n) != CLI_OK)
		return CLI_FAIL;
	int i = director_pick(user, list, n, true);
	struct buf out = BUF_INIT;
	if (json) {
		buf_append_str(&out, "{\"user\":");
		cli_json_str(&out, user);
		if (i >= 0)
			buf_printf(&out, ",\"backend\":\"%s\",\"host\":\"%s\",\"imap_port\":%u,"
					 "\"lmtp_port\":%u}\n",
				   list[i].id, list[i].host, list[i].imap_port, list[i].lmtp_port);
		else
			buf_append_str(&out, ",\"backend\":null}\n");
	} else if (i >= 0) {
		buf_printf(&out, "%s -> %s (imap %u, lmtp %u)\n", user, list[i].id,
			   list[i].imap_port, list[i].lmtp_port);
	} else {
		buf_printf(&out, "%s -> no active backend\n", user);
	}
	free(list);
	bool ok = cli_write_stdout(&out);
	buf_free(&out);
	return i >= 0 && ok ? CLI_OK : CLI_FAIL;
}

int cmd_director(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc < 1)
		return cli_usage(ctx);
	if (cli_load_config(ctx) != CLI_OK)
		return CLI_FAIL;
	const char *verb = argv[0];
	if (strcmp(verb, "status") == 0 && argc == 1)
		return status(ctx, json);
	if (strcmp(verb, "map") == 0 && argc == 2)
		return map(ctx, argv[1], json);
	struct edit_ctx e = { .verb = verb, .name = argc > 1 ? argv[1] : "" };
	if ((strcmp(verb, "add") == 0 || strcmp(verb, "remove") == 0 ||
	     strcmp(verb, "drain") == 0 || strcmp(verb, "undrain") == 0) &&
	    argc == 2)
		return do_edit(ctx, &e);
	if (strcmp(verb, "weight") == 0 && argc == 3) {
		unsigned long long w = 0;
		if (!om_parse_u64(argv[2], strlen(argv[2]), &w) || w > 1000000) {
			fprintf(stderr, "objmail: weight must be 0..1000000\n");
			return CLI_USAGE;
		}
		e.weight = (unsigned)w;
		return do_edit(ctx, &e);
	}
	return cli_usage(ctx);
}
