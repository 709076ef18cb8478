/* SPDX-License-Identifier: BSD-3-Clause */
/* ctl_report.c: "stsrolectl report --html": the reconcile result as one self-contained HTML page.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "ctl_recon.h"

/*
 * The page fetches nothing: styles and script are inline, the data is a
 * JSON island.  Every value from CloudTrail or the audit log reaches the
 * page through textContent only, never as markup, and '<', '>' and '&'
 * in the island are written as \u escapes, so no value can close the
 * script element.
 */
static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
    "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
    "<title>stsrole reconcile report</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d1d1f;background:#fafafa}\n"
    "h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.4em 0 .4em}\n"
    "#meta{color:#555}#filters{margin:1em 0;padding:.6em;background:#fff;border:1px solid #ddd}\n"
    "#filters label{margin-right:1.2em}select{font:inherit}\n"
    "table{border-collapse:collapse;width:100%;background:#fff}\n"
    "th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}\n"
    "th{background:#eee}.critical{background:#fdd}.warning{background:#fff3cd}.info{background:#"
    "e8f4fd}\n"
    ".sev{font-weight:bold;text-transform:uppercase;font-size:.85em}\n"
    ".session{background:#fff;border:1px solid #ccc;margin:.8em 0;padding:.6em}\n"
    ".session h3{margin:0 0 .3em;font-size:1em}.who{color:#555}\n"
    ".bar{position:relative;height:22px;background:#f0f0f0;margin:.4em 0;border-radius:3px}\n"
    ".dot{position:absolute;top:3px;width:4px;height:16px;margin-left:-2px}\n"
    ".k-login,.k-refresh{background:#2e7d32}.k-call{background:#1565c0}.k-error{background:#ef6c00}"
    "\n"
    ".k-logout{background:#555}.k-deny{background:#000}.k-refused{background:#c62828}\n"
    ".k-allowed-after-deny{background:#ff00aa}\n"
    "ol.tl{margin:.2em 0;padding-left:1.5em;font-family:ui-monospace,monospace;font-size:12px}\n"
    ".legend span{display:inline-block;width:10px;height:10px;margin:0 .3em 0 1em}\n"
    ".hidden{display:none}\n"
    "</style></head><body>\n"
    "<h1>stsrole: CloudTrail and the bastion's audit log</h1>\n<div id=\"meta\"></div>\n"
    "<div id=\"filters\"><label>Person <select id=\"f-person\"></select></label>"
    "<label>Role <select id=\"f-role\"></select></label>"
    "<label>Account <select id=\"f-account\"></select></label></div>\n"
    "<h2>Findings</h2><table id=\"findings\"><thead><tr><th>Severity</th><th>Finding</th>"
    "<th>Time</th><th>Person</th><th>Role</th><th>Account</th><th>Session</th><th>Detail</th>"
    "</tr></thead><tbody></tbody></table>\n"
    "<h2>Deny to first refusal</h2><table id=\"delays\"><thead><tr><th>Role</th><th>Account</th>"
    "<th>Sessions</th><th>Min s</th><th>Median s</th><th>p90 s</th><th>Max s</th></tr></thead>"
    "<tbody></tbody></table>\n"
    "<h2>SSH sessions</h2><div class=\"legend\">"
    "<span class=\"k-login\"></span>login/refresh<span class=\"k-call\"></span>call"
    "<span class=\"k-error\"></span>error<span class=\"k-logout\"></span>logout"
    "<span class=\"k-deny\"></span>deny<span class=\"k-refused\"></span>refused after deny"
    "<span class=\"k-allowed-after-deny\"></span>allowed after deny</div>\n"
    "<div id=\"sessions\"></div>\n"
    "<script type=\"application/json\" id=\"data\">";

static const char page_tail[] =
    "</script>\n<script>\n"
    "'use strict';\n"
    "const D=JSON.parse(document.getElementById('data').textContent);\n"
    "function el(t,c,x){const e=document.createElement(t);if(c)e.className=c;"
    "if(x!==undefined&&x!==null)e.textContent=String(x);return e;}\n"
    "function role(a){if(!a)return '';const m=/[^/]+$/.exec(a);return m?m[0]:a;}\n"
    "function person(o){return o.user||o.source_identity||'';}\n"
    "const F=D.findings||[],S=D.sessions||[],L=D.delays||[];\n"
    "const c=D.counts||{},w=D.window||{};\n"
    "document.getElementById('meta').textContent='Window '+(w.from||'?')+' .. '+(w.to||'?')+"
    "': '+c.records+' CloudTrail records, '+c.audit_sessions+' credentials in the audit log; '+"
    "c.critical+' critical, '+c.warning+' warning, '+c.info+' info.';\n"
    "function fill(id,vals){const "
    "s=document.getElementById(id);s.appendChild(el('option','','all'));"
    "[...new Set(vals.filter(Boolean))].sort().forEach(v=>s.appendChild(el('option','',v)));"
    "s.addEventListener('change',apply);}\n"
    "fill('f-person',F.map(person).concat(S.map(person)));\n"
    "fill('f-role',F.map(o=>role(o.role_arn||o.role)).concat(S.map(o=>role(o.role_arn))));\n"
    "fill('f-account',F.map(o=>o.account).concat(S.map(o=>o.account)));\n"
    "const fb=document.querySelector('#findings tbody');\n"
    "F.forEach(f=>{const r=el('tr',f.severity);r.dataset.person=person(f);"
    "r.dataset.role=role(f.role_arn);r.dataset.account=f.account||'';"
    "[[f.severity,'sev'],[f.finding],[f.time],[person(f)],[role(f.role_arn)],[f.account],"
    "[f.session_name],[(f.detail||'')+(f.reason?' reason: '+f.reason:'')+"
    "(f.approvers?' approvers: '+f.approvers:'')+(f.delay_s!==undefined?' delay: '+f.delay_s+' "
    "s':'')]]"
    ".forEach(([v,k])=>r.appendChild(el('td',k,v)));fb.appendChild(r);});\n"
    "if(!F.length){const r=el('tr');const d=el('td','','No findings.');d.colSpan=8;"
    "r.appendChild(d);fb.appendChild(r);}\n"
    "const db=document.querySelector('#delays tbody');\n"
    "L.forEach(d=>{const r=el('tr');r.dataset.role=d.role||'';r.dataset.account=d.account||'';"
    "r.dataset.person='';[d.role,d.account,d.sessions,d.min_s,d.p50_s,d.p90_s,d.max_s]"
    ".forEach(v=>r.appendChild(el('td','',v)));db.appendChild(r);});\n"
    "const sd=document.getElementById('sessions');\n"
    "S.forEach(s=>{const b=el('div','session');b.dataset.person=person(s);"
    "b.dataset.role=role(s.role_arn);b.dataset.account=s.account||'';"
    "b.appendChild(el('h3','',person(s)+' as '+role(s.role_arn)+' in '+(s.account||'?')));"
    "b.appendChild(el('div','who','session '+(s.session_id||'?')+' from '+(s.rhost||'?')+"
    "' on '+(s.bastion_id||'?')+'; '+s.calls+' calls, '+s.refused_after_deny+"
    "' refused after the deny, '+s.allowed_after_deny+' allowed after it'+"
    "(s.reason?'; break-glass: '+s.reason+' (approvers: '+(s.approvers||'none')+')':'')));"
    "const T=s.timeline||[];const ts=T.map(e=>Date.parse(e.t));"
    "const lo=Math.min(...ts),hi=Math.max(...ts),span=Math.max(hi-lo,1);"
    "const bar=el('div','bar');T.forEach((e,i)=>{const d=el('div','dot k-'+e.kind);"
    "d.style.left=(2+96*(ts[i]-lo)/span)+'%';d.title=e.t+' '+e.kind+' "
    "'+e.text;bar.appendChild(d);});"
    "b.appendChild(bar);const ol=el('ol','tl');"
    "T.forEach(e=>ol.appendChild(el('li','',e.t+'  '+e.kind+'  '+e.text)));b.appendChild(ol);"
    "sd.appendChild(b);});\n"
    "function apply(){const p=document.getElementById('f-person').value,"
    "r=document.getElementById('f-role').value,a=document.getElementById('f-account').value;"
    "document.querySelectorAll('[data-role]').forEach(x=>{const ok=(p==='all'||x.dataset.person===p"
    "||x.dataset.person==='')&&(r==='all'||x.dataset.role===r)&&(a==='all'||x.dataset.account===a);"
    "x.classList.toggle('hidden',!ok);});}\n"
    "document.body.dataset.ready='1';\n"
    "</script></body></html>\n";

/* The JSON island: '<', '>' and '&' only occur inside strings, where \u
 * escapes mean the same to JSON.parse and nothing to the HTML parser. */
static int
write_island(FILE *f, const char *json)
{
    const char *p;

    for (p = json; *p != '\0'; p++) {
        int rc = *p == '<'   ? fputs("\\u003c", f)
                 : *p == '>' ? fputs("\\u003e", f)
                 : *p == '&' ? fputs("\\u0026", f)
                             : fputc(*p, f);
        if (rc == EOF)
            return -1;
    }
    return 0;
}

int
ctl_report(int argc, char **argv, const char *config_path)
{
    struct ctl_recon cr;
    char *json;
    FILE *f;
    int rc, fd;

    rc = ctl_recon_run(argc, argv, config_path, 1, &cr);
    if (rc != CTL_EXIT_OK) {
        ctl_recon_free(&cr);
        return rc;
    }
    json = cJSON_PrintUnformatted(cr.result);
    /* The report names people and sessions: readable by its owner only. */
    fd = json != NULL ? open(cr.html, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)
                      : -1;
    if (fd >= 0 && fchmod(fd, 0600) != 0) {
        close(fd);
        fd = -1;
    }
    f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL || fputs(page_head, f) == EOF || write_island(f, json) != 0 ||
        fputs(page_tail, f) == EOF || fclose(f) != 0) {
        fprintf(stderr, "stsrolectl: report: %s: %s\n", cr.html,
                json == NULL ? "out of memory" : strerror(errno));
        if (f == NULL && fd >= 0)
            close(fd);
        cJSON_free(json);
        ctl_recon_free(&cr);
        return CTL_EXIT_FAIL;
    }
    fprintf(stderr, "stsrolectl: report: %s: %zu findings (%zu critical), %d SSH sessions\n",
            cr.html, (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(cr.result, "findings")),
            cr.critical, cJSON_GetArraySize(cJSON_GetObjectItem(cr.result, "sessions")));
    cJSON_free(json);
    ctl_recon_free(&cr);
    return CTL_EXIT_OK;
}
