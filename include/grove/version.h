/* Grove version.
 *
 * ABI policy: within one MAJOR version, every public function keeps its
 * signature and meaning, and public structs only grow at their end (their
 * size is never part of a call's contract: Grove never reads past the fields
 * a struct had in the MINOR version the caller was built against, because
 * every such struct is passed with an explicit version-stable layout).
 * MINOR adds functions; PATCH fixes bugs.
 */
#ifndef GROVE_VERSION_H
#define GROVE_VERSION_H

#define GROVE_VERSION_MAJOR 0
#define GROVE_VERSION_MINOR 1
#define GROVE_VERSION_PATCH 0
#define GROVE_VERSION_HEX \
    ((GROVE_VERSION_MAJOR << 16) | (GROVE_VERSION_MINOR << 8) | \
     GROVE_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__cplusplus)
#define GROVE_NORETURN [[noreturn]]
#else
#define GROVE_NORETURN _Noreturn
#endif

#if defined(GROVE_BUILDING) && defined(__GNUC__)
#define GROVE_EXPORT __attribute__((visibility("default")))
#else
#define GROVE_EXPORT
#endif

/* Returns the runtime library's GROVE_VERSION_HEX. */
GROVE_EXPORT unsigned grove_version(void);
/* Returns the runtime library's version as "MAJOR.MINOR.PATCH". */
GROVE_EXPORT const char *grove_version_string(void);

#ifdef __cplusplus
}
#endif
#endif
