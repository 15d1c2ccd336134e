/* CONTEXT=SORT (RFC 5267): ordering a context's UIDs by its SORT keys,
 * from the cached sort fields (the message itself is never read). */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-esearch.h"
#include "lib/om-error.h"
#include "storage/fts.h"

static const char *bufz(const struct buf *b, bool have)
{
	return have && b->data != NULL ? b->data : "";
}

int imap_sort_uids(struct imap_session *s, const struct sort_key *keys, size_t n_keys,
		   uint32_t *uids, size_t n)
{
	if (n < 2)
		return 0;
	bool headers = sort_keys_need_headers(keys, n_keys);
	struct sort_item *items = om_calloc(n, sizeof(*items));
	struct mail_sort_fields *sf = om_calloc(n, sizeof(*sf));
	bool *have = om_calloc(n, sizeof(*have));
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		long idx = imap_view_find_uid(s, uids[i]);
		items[i].uid = uids[i];
		if (idx < 0)
			continue; /* not in the view: sorts as empty fields */
		const struct imap_msg *im = &s->view.msgs[idx];
		if (headers && !im->expunged) {
			int r = mail_sort_fields_get(s->box, im->uid, &sf[i]);
			if (r == 0)
				have[i] = true;
			else if (r != -OM_ENOTFOUND)
				ret = r;
		}
		items[i] = (struct sort_item){
			.seq = (uint32_t)idx + 1,
			.uid = im->uid,
			.size = im->size,
			.arrival = im->internal_date,
			.date = have[i] && sf[i].has_date ? sf[i].date : im->internal_date,
			.cc = bufz(&sf[i].cc, have[i]),
			.from = bufz(&sf[i].from, have[i]),
			.to = bufz(&sf[i].to, have[i]),
			.dfrom = bufz(&sf[i].dfrom, have[i]),
			.dto = bufz(&sf[i].dto, have[i]),
			.subject = bufz(&sf[i].subject, have[i]),
		};
	}
	if (ret == 0) {
		sort_items(items, n, keys, n_keys);
		for (size_t i = 0; i < n; i++)
			uids[i] = items[i].uid;
	}
	for (size_t i = 0; i < n; i++)
		if (have[i])
			mail_sort_fields_free(&sf[i]);
	free(items);
	free(sf);
	free(have);
	return ret;
}
