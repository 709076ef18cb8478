/* SPDX-License-Identifier: BSD-3-Clause */
/* exposure.c: STATE_DIR/imds-exposure, the gateway's verdict on who reaches IMDS. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "exposure.h"
#include "safefile.h"

const char *
stsrole_exposure_name(enum stsrole_exposure e)
{
    return e == STSROLE_EXPOSED ? "exposed" : e == STSROLE_EXPOSURE_CLOSED ? "closed" : "unknown";
}

int
stsrole_exposure_write(const char *state_dir, enum stsrole_exposure e, const char *endpoint,
                       unsigned probe_uid, int64_t checked, struct stsrole_error *err)
{
    char path[4200], text[512];
    int n, fd, rc;

    rc = stsrole_open_dir_safely(state_dir, 1, &fd, err);
    if (rc != STSROLE_OK)
        return rc;
    close(fd);
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir, STSROLE_EXPOSURE_FILE) >=
        sizeof(path))
        return stsrole_fail(err, STSROLE_E_CONFIG, "state_dir is too long");
    n = snprintf(text, sizeof(text), "%s %lld uid=%u %s\n", stsrole_exposure_name(e),
                 (long long)checked, probe_uid, endpoint != NULL ? endpoint : "-");
    if (n < 0 || (size_t)n >= sizeof(text))
        return stsrole_fail(err, STSROLE_E_INVALID, "imds_endpoint is too long");
    return stsrole_write_atomic(path, text, (size_t)n, 0644, err);
}

int
stsrole_exposure_read(const char *state_dir, int64_t now, enum stsrole_exposure *e, char *why,
                      size_t whylen, struct stsrole_error *err)
{
    struct stsrole_buf b;
    char path[4200], word[16];
    long long checked;
    int rc;

    *e = STSROLE_EXPOSURE_UNKNOWN;
    snprintf(path, sizeof(path), "%s/%s", state_dir, STSROLE_EXPOSURE_FILE);
    stsrole_buf_init(&b, 0);
    rc = stsrole_read_safely(path, 0, 0, 4096, &b, err);
    if (rc == STSROLE_E_NOTFOUND || rc == STSROLE_E_IO) {
        snprintf(why, whylen,
                 "%s is missing: stsrole-gatewayd has not checked who reaches IMDS (is it "
                 "running?)",
                 path);
        stsrole_buf_free(&b);
        return STSROLE_OK;
    }
    if (rc != STSROLE_OK) {
        stsrole_buf_free(&b);
        return rc;
    }
    if (sscanf(b.data, "%15s %lld", word, &checked) != 2) {
        snprintf(why, whylen, "%s is malformed", path);
    } else if (checked > now + 60 || now - checked > STSROLE_EXPOSURE_STALE) {
        snprintf(why, whylen,
                 "%s is stale (checked %llds ago): stsrole-gatewayd has stopped checking who "
                 "reaches IMDS",
                 path, now - checked);
    } else if (strcmp(word, "closed") == 0) {
        *e = STSROLE_EXPOSURE_CLOSED;
        snprintf(why, whylen, "IMDS is root's alone");
    } else if (strcmp(word, "exposed") == 0) {
        *e = STSROLE_EXPOSED;
        snprintf(why, whylen,
                 "users other than root reach IMDS and so the bastion's own credential; "
                 "install %s",
                 STSROLE_IMDS_FIX);
    } else {
        snprintf(why, whylen, "%s: stsrole-gatewayd could not check who reaches IMDS", path);
    }
    stsrole_buf_free(&b);
    return STSROLE_OK;
}
