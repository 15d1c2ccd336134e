/* One error enum for the whole server. Functions return 0 on success or a
 * negative OM_E* code; protocol layers map the code straight onto a reply
 * (IMAP NO [...], LMTP 4xx/5xx). */
#ifndef OM_ERROR_H
#define OM_ERROR_H

enum om_error {
	OM_OK = 0,
	OM_ENOTFOUND = 1,  /* no such user, mailbox, message, key */
	OM_EEXISTS = 2,    /* already exists */
	OM_ETEMP = 3,      /* temporary failure: retry later (store down, lock busy) */
	OM_EQUOTA = 4,     /* over quota */
	OM_EINVAL = 5,     /* bad argument / malformed input */
	OM_ENOMEM = 6,
	OM_EIO = 7,        /* local I/O error (treated as temporary by protocols) */
	OM_EPERM = 8,      /* not allowed (read-only, permission, hostile name) */
	OM_ELIMIT = 9,     /* a configured limit was hit (size, count) */
	OM_ENOTEMPTY = 10, /* e.g. mailbox has children */
	OM_EAUTH = 11,     /* authentication failed */
};

/* Short stable name of an error code ("ENOTFOUND"); never NULL. */
const char *om_strerror(int err);

#endif
