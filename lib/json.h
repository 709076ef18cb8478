/* SPDX-License-Identifier: BSD-3-Clause */
/* json.h: cJSON trees that held secrets. */
#ifndef STSROLE_JSON_H
#define STSROLE_JSON_H

#include <cjson/cJSON.h>

/*
 * Wipes every string of the tree (values and member names, at every
 * depth) and then frees it with cJSON_Delete.  cJSON copies each string
 * it parses or is given, so a tree that held a secret key or token keeps
 * copies of its own.  Strings the tree only references (cJSON_IsReference,
 * cJSON_StringIsConst) belong to someone else and are left alone.  NULL
 * is fine.
 */
void stsrole_json_delete_wiped(cJSON *tree);

/* Prints a tree that holds a secret into a buffer we own, never into
 * cJSON's own, which grows by realloc and leaves copies of the secret in
 * freed memory.  formatted: cJSON_Print's layout, else compact.  *out is
 * NUL-terminated; stsrole_free_secret it.  Returns a stsrole_status. */
struct stsrole_error;
int stsrole_json_print_secret(const cJSON *o, int formatted, char **out, struct stsrole_error *err);

#endif
