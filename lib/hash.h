/* SPDX-License-Identifier: BSD-3-Clause */
/* hash.h: SHA-256 in hex; util layer. */
#ifndef STSROLE_HASH_H
#define STSROLE_HASH_H

#include <stddef.h>

/* Hex SHA-256 of data into out[65]; out is "" when libcrypto failed. */
void stsrole_sha256_hex(const void *data, size_t len, char out[65]);

#endif
