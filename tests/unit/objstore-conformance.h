/* The object store conformance suite: the same tests against any store spec.
 * Include "objstore-conformance.c" once in a test_*.c file (it has static
 * functions; link om_objstore om_lib) and call:
 *     return objstore_conformance_run("s3", "s3://KEY:SECRET@127.0.0.1:7480/bucket");
 * Keys go under "conf/<pid>.<time>/" and are deleted at the end, so a shared
 * bucket or pool is fine. Returns the number of failed tests (cmocka). */
#ifndef OM_OBJSTORE_CONFORMANCE_H
#define OM_OBJSTORE_CONFORMANCE_H

int objstore_conformance_run(const char *group_name, const char *spec);

#endif
