/* The rados:// spec of the RADOS driver (rados.c):
 *   rados://POOL?conf=PATH&id=NAME&namespace=NS&keyring=PATH&timeout=30s&connect_timeout=10s
 *               &catalog=auto|build|off  (listings: rados-catalog.c, doc/ceph.md)
 * Values may be %-escaped. id defaults to "admin" (client.admin); without
 * conf librados searches $CEPH_CONF, /etc/ceph/ceph.conf, ~/.ceph/config. */
#ifndef OM_RADOS_SPEC_H
#define OM_RADOS_SPEC_H

struct rados_spec {
	char *pool, *conf, *id, *ns, *keyring; /* NULL = not given (id: never NULL) */
	unsigned timeout_s, connect_timeout_s; /* 0 = not given */
	enum { RADOS_SPEC_CAT_AUTO, RADOS_SPEC_CAT_BUILD, RADOS_SPEC_CAT_OFF } catalog;
};

/* 0, or -OM_EINVAL with *error_r set (sp is then empty). */
int rados_spec_parse(const char *spec, struct rados_spec *sp, char **error_r);
void rados_spec_free(struct rados_spec *sp);

#endif
