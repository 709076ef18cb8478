/* SPDX-License-Identifier: BSD-3-Clause */
/* faultinj_pam.c: the PAM-side wrappers of the fault-injection build of pam_stsrole.so. */
#include <string.h>

#include <security/pam_appl.h>
#include <security/pam_modules.h>

#include "faultinj.h"

/* Setting a variable can fail (PAM_BUF_ERR); pam_putenv is also where the minted secret
 * key and token are last seen, so they are learned here as well. */
int
__wrap_pam_putenv(pam_handle_t *pamh, const char *name_value)
{
    static const char *const watched[] = {"AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN="};
    size_t i;

    for (i = 0; name_value != NULL && i < sizeof(watched) / sizeof(watched[0]); i++) {
        size_t n = strlen(watched[i]);
        if (strncmp(name_value, watched[i], n) == 0)
            faultinj_learn_secret(i == 0 ? "learned-secret-key" : "learned-session-token",
                                  name_value + n);
    }
    /* "NAME" without '=' deletes; Linux-PAM frees without allocating, so
     * a deletion cannot fail with PAM_BUF_ERR: not a failure point. */
    if (name_value != NULL && strchr(name_value, '=') != NULL && faultinj_should_fail("pam_putenv"))
        return PAM_BUF_ERR;
    return __real_pam_putenv(pamh, name_value);
}

int
__wrap_pam_set_data(pam_handle_t *pamh, const char *name, void *data,
                    void (*cleanup)(pam_handle_t *, void *, int))
{
    if (faultinj_should_fail("pam_set_data"))
        return PAM_BUF_ERR;
    return __real_pam_set_data(pamh, name, data, cleanup);
}
