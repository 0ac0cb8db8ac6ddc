#!/bin/sh
# do-fip post-install (deb postinst, rpm %post).
#
# Warns when keepalived will not be able to use do-fip's files: keepalived
# runs a hook with keepalived_script's *primary* group only (it clears the
# supplementary groups), so a keepalived_script user created earlier with
# another primary group (e.g. "useradd -g users -M keepalived_script") cannot
# read /etc/do-fip/do-fip.conf (root:keepalived_script 0640). The user is not
# changed here: it belongs to the administrator and other scripts run as it.
set -e

case "$1" in
abort-*) exit 0 ;;
esac

name=keepalived_script
group=$(id -gn "$name" 2>/dev/null || true)
if [ -n "$group" ] && [ "$group" != "$name" ]; then
	cat >&2 <<MSG
do-fip: warning: the primary group of user $name is "$group", not "$name".
do-fip: keepalived runs hooks with the primary group only, so do-fip run by
do-fip: keepalived cannot read /etc/do-fip/do-fip.conf. Fix it with one of:
do-fip:   usermod -g $name $name
do-fip:   chgrp $group /etc/do-fip/do-fip.conf   (every member of $group can then read the token)
MSG
fi

# Where to go from here: do-fip check finds what would break a failover
# (this, an unquoted hook line, a token without a scope, ...) before one.
echo "do-fip: set the token and IPs in /etc/do-fip/do-fip.conf, wire keepalived" \
	"(/usr/share/doc/do-fip/examples/), then run: sudo do-fip check"

exit 0
