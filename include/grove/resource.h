/* Grove per-process memory and resources, released when the process exits
 * for any reason: normal, error, crash or kill. */
#ifndef GROVE_RESOURCE_H
#define GROVE_RESOURCE_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Allocates size bytes owned by the calling process (16-byte aligned).
 * Freed by grove_free() or when the process exits. Returns NULL when out
 * of memory, for size 0, or outside a process. */
GROVE_EXPORT void *grove_alloc(size_t size);
/* As grove_alloc, zeroed; NULL also when n * size overflows or is past
 * PTRDIFF_MAX (no object is larger). */
GROVE_EXPORT void *grove_calloc(size_t n, size_t size);
/* Resizes a block of the calling process (NULL p: as grove_alloc). Returns
 * NULL (p unchanged) on failure. */
GROVE_EXPORT void *grove_realloc(void *p, size_t size);
/* Frees a block of the calling process; NULL is ignored. A block of
 * another process is a programming error and aborts. */
GROVE_EXPORT void grove_free(void *p);

/* A resource attached to a process. */
typedef struct grove_resource grove_resource_t;

/* Attaches ptr to the calling process: dtor(ptr) runs exactly once, when
 * the resource is released or the process exits. dtor runs on a runtime
 * stack and must not block or fault. Writes the handle (may be NULL out).
 * Returns 0, GROVE_EINVAL (NULL dtor), GROVE_ENOMEM or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_resource_attach(void (*dtor)(void *ptr), void *ptr,
                                       grove_resource_t **out);
/* Attaches a file descriptor, closed when the process exits. Returns as
 * grove_resource_attach, and GROVE_EINVAL for a negative fd. */
GROVE_EXPORT int grove_resource_fd(int fd, grove_resource_t **out);
/* Runs the resource's destructor now and forgets it. Returns 0,
 * GROVE_EINVAL (NULL or not the caller's) or GROVE_ENOTPROC. */
GROVE_EXPORT int grove_resource_release(grove_resource_t *res);
/* Forgets the resource without running its destructor. Same returns. */
GROVE_EXPORT int grove_resource_detach(grove_resource_t *res);

#ifdef __cplusplus
}
#endif
#endif
