/* SPDX-License-Identifier: BSD-3-Clause */
/* xml.c: the element path of an expat parse, matched by local names. */
#include "config.h"

#include <string.h>

#include "xml.h"

const char *
stsrole_xml_local_name(const char *name)
{
    const char *c = strrchr(name, ':');

    return c != NULL ? c + 1 : name;
}

int
stsrole_xml_path_enter(struct stsrole_xml_path *p, const char *name, int max_depth)
{
    const char *local = stsrole_xml_local_name(name);
    size_t len, add;

    if (max_depth > STSROLE_XML_DEPTH_MAX)
        max_depth = STSROLE_XML_DEPTH_MAX;
    if (p->depth >= max_depth)
        return -1;
    p->depth++;
    len = p->depth > 1 ? p->path_len[p->depth - 1] : 0;
    add = strlen(local) + (len > 0 ? 1 : 0);
    if (p->unmatched_from != 0 || len + add >= sizeof(p->path)) {
        if (p->unmatched_from == 0)
            p->unmatched_from = p->depth;
        return 0;
    }
    if (len > 0)
        p->path[len] = '/';
    memcpy(p->path + len + (len > 0 ? 1 : 0), local, strlen(local) + 1);
    p->path_len[p->depth] = len + add;
    return 1;
}

void
stsrole_xml_path_leave(struct stsrole_xml_path *p)
{
    if (p->depth <= 0)
        return;
    if (p->unmatched_from != 0) {
        if (p->unmatched_from == p->depth)
            p->unmatched_from = 0;
    } else if (p->depth > 1) {
        p->path[p->path_len[p->depth - 1]] = '\0';
    } else {
        p->path[0] = '\0';
    }
    p->depth--;
}
