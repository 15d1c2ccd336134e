/* dovecot-keywords: "<index> <name>" per line; index i is the file name
 * letter 'a' + i. The index keeps its own keyword numbering; names connect
 * the two, so a file written by Dovecot in another order still maps right. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/maildir/maildir.h"

#define KEYWORDS_MAX_SIZE (64 * 1024)

int maildir_keywords_read(const char *dir, struct maildir_keywords *kw)
{
	struct buf path = BUF_INIT;
	memset(kw, 0, sizeof(*kw));
	buf_printf(&path, "%s/" MAILDIR_KEYWORDS, dir);
	int fd = open(path.data, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		buf_free(&path);
		if (err == ENOENT)
			return 0;
		log_error("maildir: open %s/" MAILDIR_KEYWORDS ": %s", dir, strerror(err));
		return -OM_EIO;
	}
	char data[KEYWORDS_MAX_SIZE + 1];
	size_t len = 0;
	ssize_t r;
	while (len < KEYWORDS_MAX_SIZE && (r = read(fd, data + len, KEYWORDS_MAX_SIZE - len)) > 0)
		len += (size_t)r;
	close(fd);
	data[len] = '\0';
	char *save = NULL;
	for (char *line = strtok_r(data, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		unsigned long long idx;
		if (sp == NULL || !om_parse_u64(line, (size_t)(sp - line), &idx) ||
		    idx >= MAILDIR_MAX_KEYWORDS || !mail_keyword_valid(sp + 1)) {
			log_warn("maildir: %s: bad line ignored", path.data);
			continue;
		}
		free(kw->names[idx]);
		kw->names[idx] = om_strdup(sp + 1);
	}
	buf_free(&path);
	return 0;
}

void maildir_keywords_free(struct maildir_keywords *kw)
{
	for (unsigned i = 0; i < MAILDIR_MAX_KEYWORDS; i++)
		free(kw->names[i]);
	memset(kw, 0, sizeof(*kw));
}

static int letter_of(const struct maildir_keywords *kw, const char *name)
{
	for (unsigned i = 0; i < MAILDIR_MAX_KEYWORDS; i++) {
		if (kw->names[i] != NULL && om_str_ieq(kw->names[i], name))
			return (int)i;
	}
	return -1;
}

/* Resolve; *missing_r says whether some name has no letter yet. */
static void resolve(const struct maildir_keywords *kw, char **names, size_t n, uint64_t keywords,
		    uint32_t *letters_r, bool *missing_r)
{
	*letters_r = 0;
	*missing_r = false;
	for (size_t k = 0; k < n && k < 64; k++) {
		if ((keywords & (UINT64_C(1) << k)) == 0)
			continue;
		int l = letter_of(kw, names[k]);
		if (l < 0)
			*missing_r = true;
		else
			*letters_r |= 1u << l;
	}
}

int maildir_keywords_to_letters(struct mail_user *user, int64_t mailbox_id, const char *dir,
				uint64_t keywords, uint32_t *letters_r)
{
	char **names;
	size_t n;
	struct maildir_keywords kw;
	bool missing = false;
	*letters_r = 0;
	if (keywords == 0)
		return 0;
	int ret = index_keywords_get(user->index, mailbox_id, &names, &n);
	if (ret < 0)
		return ret;
	ret = maildir_keywords_read(dir, &kw);
	if (ret == 0)
		resolve(&kw, names, n, keywords, letters_r, &missing);
	if (ret < 0 || !missing)
		goto out;

	/* Dovecot writes dovecot-keywords under the uidlist lock */
	struct buf path = BUF_INIT, lock = BUF_INIT;
	buf_printf(&path, "%s/" MAILDIR_KEYWORDS, dir);
	buf_printf(&lock, "%s/" MAILDIR_UIDLIST, dir);
	ret = dotlock_take(lock.data);
	if (ret == 0) {
		maildir_keywords_free(&kw);
		ret = maildir_keywords_read(dir, &kw);
		for (size_t k = 0; ret == 0 && k < n && k < 64; k++) {
			if ((keywords & (UINT64_C(1) << k)) == 0 || letter_of(&kw, names[k]) >= 0)
				continue;
			unsigned slot;
			for (slot = 0; slot < MAILDIR_MAX_KEYWORDS && kw.names[slot] != NULL; slot++)
				;
			if (slot == MAILDIR_MAX_KEYWORDS) {
				mail_user_set_error(user, "%s: no free keyword letters", dir);
				ret = -OM_ELIMIT;
				break;
			}
			kw.names[slot] = om_strdup(names[k]);
		}
		if (ret == 0) {
			struct buf data = BUF_INIT;
			for (unsigned i = 0; i < MAILDIR_MAX_KEYWORDS; i++) {
				if (kw.names[i] != NULL)
					buf_printf(&data, "%u %s\n", i, kw.names[i]);
			}
			ret = file_replace(path.data, buf_cstr(&data), data.len);
			buf_free(&data);
		}
		dotlock_release(lock.data);
		if (ret == 0)
			resolve(&kw, names, n, keywords, letters_r, &missing);
	}
	buf_free(&path);
	buf_free(&lock);
out:
	maildir_keywords_free(&kw);
	mail_names_free(names, n);
	return ret;
}

int maildir_keywords_from_letters(struct mail_user *user, int64_t mailbox_id,
				  const struct maildir_keywords *kw, char **index_names,
				  size_t *n_index_names, uint32_t letters, uint64_t *keywords_r)
{
	*keywords_r = 0;
	for (unsigned l = 0; l < MAILDIR_MAX_KEYWORDS; l++) {
		if ((letters & (1u << l)) == 0 || kw->names[l] == NULL)
			continue;
		size_t k;
		for (k = 0; k < *n_index_names; k++) {
			if (om_str_ieq(index_names[k], kw->names[l]))
				break;
		}
		if (k == *n_index_names) {
			if (k >= MAILDIR_MAX_KEYWORDS)
				continue;
			int ret = index_keyword_add(user->index, mailbox_id, (unsigned)k, kw->names[l]);
			if (ret < 0)
				return ret;
			index_names[k] = om_strdup(kw->names[l]);
			(*n_index_names)++;
		}
		*keywords_r |= UINT64_C(1) << k;
	}
	return 0;
}
