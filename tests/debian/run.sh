#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/debian/run.sh: build the Debian packages from a copy of the tree, check them with
# lintian, install them, log in once through the installed module (smoke.py), purge them, and
# check that nothing of them is left.  Exit 0 pass, 1 fail, 77 skipped.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
pkgs=(libpam-stsrole stsrole-gateway)
fail=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fail=1; }

[ "$(id -u)" = 0 ] || { echo "skipped: needs root (dpkg -i, /etc/pam.d, sshd)"; exit 77; }
for t in dpkg-buildpackage dh lintian fakeroot; do
    command -v "$t" >/dev/null || { echo "skipped: $t is missing (apt-get install debhelper lintian fakeroot dpkg-dev)"; exit 77; }
done
for p in "${pkgs[@]}"; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        echo "skipped: $p is installed already; this test installs and purges it"; exit 77
    fi
done
if [ -e /etc/stsrole ] || [ -e /var/lib/stsrole ] || [ -e /var/log/stsrole ]; then
    echo "skipped: /etc/stsrole, /var/lib/stsrole or /var/log/stsrole exists; purge would remove it"
    exit 77
fi

# -- build in a copy: dpkg-buildpackage writes its results beside the source tree -------------
tmp=$(mktemp -d /tmp/stsrole-deb.XXXXXX)
cleanup() {
    for p in stsrole-gateway libpam-stsrole; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "installed" &&
            apt-get -y -q -o DPkg::Lock::Timeout=300 purge "$p" >/dev/null 2>&1
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
src="$tmp/stsrole-0.1.0"
mkdir -p "$src"
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
    tar -cf - --null -T - 2>/dev/null) | tar -xf - -C "$src"
rm -rf "$src/build"* "$src/tests/policy/node_modules"
echo "building in $src"
if (cd "$src" && nice dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1); then
    ok "dpkg-buildpackage -us -uc -b builds ${pkgs[*]}"
else
    bad "dpkg-buildpackage failed:"; tail -40 "$tmp/build.log"; exit 1
fi
debs=()
for p in "${pkgs[@]}"; do
    f=$(ls "$tmp"/"${p}"_*.deb 2>/dev/null | head -1)
    [ -n "$f" ] && debs+=("$f") || bad "no $p package was built"
done
[ $fail = 0 ] || exit 1

# -- lintian at its default level: no error, no warning (overrides are commented) -------------
if lintian --fail-on error,warning "$tmp"/stsrole_*.changes >"$tmp/lintian.log" 2>&1; then
    ok "lintian: no error or warning"; sed 's/^/    /' "$tmp/lintian.log"
else
    bad "lintian:"; cat "$tmp/lintian.log"
fi

# -- install ---------------------------------------------------------------------------------
sums() { sha256sum /etc/pam.d/sshd /etc/ssh/sshd_config 2>/dev/null; }
leftovers() {
    find /etc /var /run /lib /usr -xdev \( -path /var/tmp -o -path /etc/pam.d -o -path '/run/stsrole-*' \) -prune -o \
        -name '*stsrole*' -print 2>/dev/null | sort
}
before_sums=$(sums)
before=$(leftovers)
# apt-get rather than dpkg -i: it waits for the dpkg lock (other jobs may hold it) and
# resolves the packages' dependencies.
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300 "$@"; }
if apt_get install "${debs[@]}" >"$tmp/install.log" 2>&1; then
    ok "apt-get install ./PACKAGE.deb installs both packages"
else
    bad "apt-get install failed:"; cat "$tmp/install.log"; exit 1
fi
mode() { stat -c '%U:%G %a' "$1" 2>/dev/null || echo missing; }
check_mode() { # path want
    local got; got=$(mode "$1")
    [ "$got" = "$2" ] && ok "$1 is $2" || bad "$1 is $got, want $2"
}
check_mode /etc/stsrole/stsrole.conf "root:root 600"
dpkg-query -W -f='${Conffiles}\n' stsrole-gateway | grep -q "/etc/stsrole/stsrole.conf" &&
    ok "/etc/stsrole/stsrole.conf is a conffile" || bad "/etc/stsrole/stsrole.conf is not a conffile"
check_mode /var/lib/stsrole "root:root 700"
check_mode /var/log/stsrole "root:root 700"
check_mode /run/stsrole "root:root 755"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
check_mode "/lib/$multiarch/security/pam_stsrole.so" "root:root 644"
for f in /usr/bin/stsrolectl /usr/bin/stsrole-credential-process /usr/sbin/stsrole-gatewayd; do
    check_mode "$f" "root:root 755"
done
for m in pam_stsrole.8 stsrolectl.8 stsrole-gatewayd.8 stsrole.conf.5 stsrole-credential-process.1; do
    [ -e "/usr/share/man/man${m##*.}/$m.gz" ] && ok "man page $m" || bad "man page $m is missing"
done
[ -e /etc/logrotate.d/stsrole-gateway ] && ok "logrotate file" || bad "no /etc/logrotate.d/stsrole-gateway"
[ -e /usr/share/doc/stsrole-gateway/examples/imds-lockdown.nft ] &&
    ok "the nftables IMDS lock-down is among the examples" || bad "imds-lockdown.nft is not installed"
wants=/etc/systemd/system/multi-user.target.wants/stsrole-gatewayd.service
if [ "$(readlink "$wants")" = /lib/systemd/system/stsrole-gatewayd.service ]; then
    ok "stsrole-gatewayd.service is enabled (debhelper): $wants"
else
    bad "stsrole-gatewayd.service is not enabled ($wants)"
fi
[ "$(sums)" = "$before_sums" ] && ok "installing changed neither /etc/pam.d/sshd nor sshd_config" ||
    bad "installing changed /etc/pam.d/sshd or /etc/ssh/sshd_config"

# -- a login through the installed module ----------------------------------------------------
python3 "$here/smoke.py"
case $? in
0) ok "smoke test: a login through the installed module" ;;
77) echo "skip - smoke test (see above)" ;;
*) bad "smoke test" ;;
esac

# -- purge: nothing left behind -----------------------------------------------------------
if apt_get purge stsrole-gateway libpam-stsrole >"$tmp/purge.log" 2>&1; then
    ok "apt-get purge removes both packages"
else
    bad "dpkg --purge failed:"; cat "$tmp/purge.log"
fi
after=$(leftovers)
if [ "$after" = "$before" ]; then
    ok "nothing named *stsrole* is left under /etc /var /run /lib /usr"
else
    bad "left behind after purge:"; comm -13 <(echo "$before") <(echo "$after")
fi
for d in /etc/stsrole /var/lib/stsrole /var/log/stsrole /run/stsrole; do
    [ -e "$d" ] && bad "$d is left after purge"
done
[ "$(sums)" = "$before_sums" ] && ok "/etc/pam.d/sshd and sshd_config are as before" ||
    bad "/etc/pam.d/sshd or /etc/ssh/sshd_config changed"

[ $fail = 0 ] && echo "debian: passed" || echo "debian: FAILED"
exit $fail
