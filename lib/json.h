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

#endif
