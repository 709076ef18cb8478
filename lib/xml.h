/* SPDX-License-Identifier: BSD-3-Clause */
/* xml.h: the element path of an expat parse, matched by local names. */
#ifndef STSROLE_XML_H
#define STSROLE_XML_H

#include <stddef.h>

#define STSROLE_XML_DEPTH_MAX 32
#define STSROLE_XML_PATH_MAX 256

/*
 * "Root/Child/Leaf" of the element being parsed, by local names (no
 * namespace prefix), so a decoder matches its fields with strcmp against
 * a table of paths.  A path that would not fit is not tracked: path then
 * stays at the last ancestor that fit until the parse climbs back out.
 * Zero it (memset, or = {0}) to start.
 */
struct stsrole_xml_path {
    int depth;          /* elements open, the current one included */
    int unmatched_from; /* depth from which the path is too long; 0: none */
    char path[STSROLE_XML_PATH_MAX];
    size_t path_len[STSROLE_XML_DEPTH_MAX + 1];
};

/* The local part of an expat name without namespace processing:
 * "prefix:local" or "local". */
const char *stsrole_xml_local_name(const char *name);

/*
 * For a start-element handler: enters the element name.  Returns 1 when
 * path now names it, 0 when it is entered but its path is too long to be
 * tracked, and -1 (nothing entered) when max_depth elements, at most
 * STSROLE_XML_DEPTH_MAX, are already open: the caller refuses the document.
 */
int stsrole_xml_path_enter(struct stsrole_xml_path *p, const char *name, int max_depth);

/* For an end-element handler: leaves the current element. */
void stsrole_xml_path_leave(struct stsrole_xml_path *p);

#endif
