#!/bin/sh
# do-fip post-removal (deb postrm).
#
# "remove" keeps the configuration (dpkg keeps the conffile) and the state
# directory. "purge" deletes both. The keepalived_script user and group are
# kept: other keepalived scripts may run as that user by now, and files
# elsewhere may belong to it; delete them by hand if nothing else needs them
# (userdel keepalived_script).
set -e

if [ "$1" = purge ]; then
	rm -rf /var/lib/do-fip
	rm -f /etc/do-fip/do-fip.conf /etc/do-fip/do-fip.conf.dpkg-old \
		/etc/do-fip/do-fip.conf.dpkg-new /etc/do-fip/do-fip.conf.dpkg-dist
	rmdir /etc/do-fip 2>/dev/null || true
fi

exit 0
