/* One message's contents for the content keys of a search program (struct
 * search_source, imap-search.h): read and MIME-parsed on first use, at most
 * once per message. IMAP SEARCH and the objmail tool's queries share it. */
#ifndef OM_IMAP_SEARCH_LOADER_H
#define OM_IMAP_SEARCH_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/imap-search.h"
#include "lib/buf.h"
#include "storage/mail-storage.h"

struct mime_message;

struct search_loader {
	struct mailbox *box;
	uint32_t uid;
	bool gone;   /* known expunged: never opened, content keys don't match */
	bool tried, ok;
	int error;   /* why loading failed; -OM_ENOTFOUND: expunged meanwhile */
	struct mail_data md;
	struct mime_message *mime;
	struct buf tmp;
};

void search_loader_init(struct search_loader *l, struct mailbox *box);
/* Drop the loaded message (if any) and aim at uid. */
void search_loader_reset(struct search_loader *l, uint32_t uid, bool gone);
bool search_loader_load(struct search_loader *l);
void search_loader_deinit(struct search_loader *l);
/* header/text/sent_date/contains of src read through l. */
void search_loader_source(struct search_loader *l, struct search_source *src_r);

#endif
