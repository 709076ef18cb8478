/* SPDX-License-Identifier: BSD-3-Clause */
/* gwproto.h: the control socket between stsrolectl and stsrole-gatewayd: where it is, how it talks.
 */
#ifndef STSROLE_GWPROTO_H
#define STSROLE_GWPROTO_H

#include <stdarg.h>
#include <stddef.h>

/*
 * STATE_DIR/gatewayd.sock, a SOCK_STREAM unix socket, mode 0600 in a 0700
 * root-owned STATE_DIR; the gateway also checks SO_PEERCRED and answers
 * only its own uid (root).  One request per connection: one JSON object
 * on one line, e.g.
 *
 *   {"cmd":"sessions"}
 *   {"cmd":"revoke","session":"<id>"}   {"cmd":"revoke","user":"alice"}
 *   {"cmd":"revoke","all":true,"role":"SecurityAuditRole"}
 *   {"cmd":"revoke","user":"alice","fleet":true}   (every bastion's, from the registry)
 *   {"cmd":"status"}
 *
 * and one JSON object back, {"ok":true,...} or {"ok":false,"error":"..."}.
 */
#define GW_SOCKET_NAME "gatewayd.sock"
#define GW_REQUEST_MAX 4096
#define GW_RESPONSE_MAX (4 * 1024 * 1024)

struct gw;

/*
 * The gateway's side, in gw_ctl.c: runs one request (len bytes as read
 * from the socket, at most GW_REQUEST_MAX) and returns the answer line
 * without its '\n', to be freed with free(), or NULL when out of memory.
 * Kept apart from the socket so that everything a client can send is
 * reachable by tests/fuzz/fuzz_gateway_request.c.
 */
char *gw_ctl_respond(struct gw *g, const char *request, size_t len);

/* {"ok":false,"error":MSG}, MSG formatted from fmt and cut to fit
 * GW_ERROR_MAX bytes: the error answer of the control socket and of the
 * credential socket alike (gw_ctl.c).  NULL when out of memory. */
#define GW_ERROR_MAX 600
struct cJSON;
struct cJSON *gw_error_vobject(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
