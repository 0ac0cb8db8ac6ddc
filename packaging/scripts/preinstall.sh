#!/bin/sh
# do-fip pre-install (deb preinst, rpm %pre).
#
# Creates the system user and group keepalived_script if they are missing.
# This runs before the files are unpacked, so dpkg and rpm can give
# /etc/do-fip/do-fip.conf and /var/lib/do-fip their owner by name.
#
# Side effect, on purpose and documented: keepalived (1.3.0 and later) runs
# every script that has no explicit user as keepalived_script whenever that
# user exists, with that user's primary group and no supplementary groups.
# An existing keepalived_script user or group is left exactly as it is.
set -e

name=keepalived_script

nologin=/usr/sbin/nologin
[ -x "$nologin" ] || nologin=/sbin/nologin
[ -x "$nologin" ] || nologin=/bin/false

if ! getent group "$name" >/dev/null; then
	groupadd --system "$name"
fi
if ! getent passwd "$name" >/dev/null; then
	useradd --system --gid "$name" --no-create-home --home-dir /nonexistent \
		--shell "$nologin" --comment "keepalived scripts (do-fip)" "$name"
fi

exit 0
