/* SPDX-License-Identifier: BSD-3-Clause */
/* hash.c: SHA-256 in hex (libcrypto), for the signer and the audit chain alike. */
#include "config.h"

#include <openssl/evp.h>

#include "hash.h"
#include "stsrole.h"

void
stsrole_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;

    /* An empty result tells internal callers that libcrypto failed. */
    out[0] = '\0';
    if (data == NULL && len > 0)
        return;
    if (EVP_Digest(data == NULL ? "" : data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != sizeof(md))
        return;
    stsrole_hex(md, sizeof(md), out);
}
