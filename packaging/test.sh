#!/bin/bash
# Package test for do-fip (make package-test; CI). Run as root after
# "make package":
#
#   packaging/test.sh [DIST]        DIST defaults to dist
#
# With DO_FIP_VERSION set (make package-test sets it), do-fip --version must
# print exactly "do-fip $DO_FIP_VERSION" (or "do-fip version ...", urfave/cli's
# default wording).
#
# .deb: lintian, contents, dpkg -i, do-fip run as keepalived runs it, owner and
#       mode of config and state dir, a real "do-fip assign" as keepalived_script
#       against the built-in simulator on 127.0.0.1 with the token in the
#       installed config, man -w, upgrade keeps an edited config, dpkg -r keeps
#       config and state, dpkg -P leaves nothing behind.
# .rpm: file list, modes, owners, %config flags, scripts (rpm -qp) for every
#       rpm; rpmlint as an unprivileged user; install and erase the host's rpm
#       with a throwaway rpm database (rpm --dbpath TMP --nodeps). An rpm
#       payload is never extracted as root: rpmlint runs as nobody, through a
#       cpio that refuses absolute paths (nfpm writes absolute payload paths).
#
# Leaves the machine as it found it. It runs in its own mount namespace over
# a private copy of /etc, so the keepalived_script user it starts without,
# and the one the package creates, are never seen by the rest of the machine
# (a keepalived running there keeps its script user); the real /etc is
# checked at the end. Package files outside /etc do land on the real file
# system while it runs, and are purged/erased at the end, even on failure.
# It refuses to run if do-fip is already installed or /etc/do-fip or
# /var/lib/do-fip exist, so it never touches a real installation. Tools it
# needs (lintian rpm rpmlint rpm2cpio man-db file cpio) are installed with
# apt-get only if missing, and left installed.
#
# Ends with "N passed, M failed"; exits non-zero if any check failed.
set -u

dist=$(cd "${1:-dist}" 2>/dev/null && pwd) || { echo "package-test: no directory ${1:-dist} (make package)" >&2; exit 2; }
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
# Paths below (packaging/, examples/) are relative to the repository root.
cd "$(dirname "$self")/.." || exit 2
name=do-fip
kuser=keepalived_script
pass=0
fail=0

die() { echo "package-test: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "run as root (it installs and removes packages)"

# --- tools ----------------------------------------------------------------
missing=""
for pair in lintian:lintian rpm:rpm rpmlint:rpmlint rpm2cpio:rpm2cpio man:man-db file:file cpio:cpio; do
	command -v "${pair%%:*}" >/dev/null || missing="$missing ${pair#*:}"
done
if [ -n "$missing" ]; then
	echo "package-test: installing$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		die "apt-get install$missing failed"
fi

# --- refuse to touch a real installation ------------------------------------
if dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -qv 'not-installed'; then
	die "$name is installed (dpkg): remove it first, this test installs and purges it"
fi
for p in /etc/do-fip /var/lib/do-fip /usr/bin/do-fip; do
	[ ! -e "$p" ] || die "$p exists: this test would delete it"
done

# --- private /etc ------------------------------------------------------------
# Re-run this script in a new mount namespace with a copy of /etc mounted
# over /etc. The copy is made here, in the real /etc's namespace.
if [ -z "${DO_FIP_PACKAGE_TEST_ETC:-}" ]; then
	command -v unshare >/dev/null || die "needs unshare (util-linux)"
	etc_copy=$(mktemp -d /tmp/do-fip-package-test-etc.XXXXXX)
	cp -a /etc "$etc_copy/etc" || die "cannot copy /etc"
	trap 'rm -rf "$etc_copy"' EXIT
	trap 'exit 130' INT TERM
	grep "^$kuser:" /etc/passwd >"$etc_copy/passwd-line"
	DO_FIP_PACKAGE_TEST_ETC=$etc_copy unshare --mount --propagation private "$BASH" "$self" "$dist"
	exit
fi
etc_copy=$DO_FIP_PACKAGE_TEST_ETC
exec 8</etc # the real /etc, still reachable as /proc/self/fd/8 once covered
mount --bind "$etc_copy/etc" /etc || die "cannot mount the copy of /etc"
# forget_user: delete keepalived_script from the private /etc by editing the
# files. Not userdel: it looks at processes and files outside /etc (a
# keepalived_script of the real machine may be running a hook right now).
forget_user() {
	local f
	for f in /etc/passwd /etc/shadow /etc/group /etc/gshadow; do
		[ -f "$f" ] && sed -i "/^$kuser:/d" "$f"
	done
	return 0
}
# Start as a machine that never had keepalived_script (only in the copy).
forget_user

# version_ok COMMAND...: the command prints "do-fip VERSION" (or urfave/cli's
# "do-fip version VERSION"); VERSION is DO_FIP_VERSION when make passes it.
version_ok() {
	local got
	got=$("$@") || return 1
	if [ -n "${DO_FIP_VERSION:-}" ]; then
		[ "$got" = "do-fip $DO_FIP_VERSION" ] || [ "$got" = "do-fip version $DO_FIP_VERSION" ]
	else
		[[ $got == "do-fip "?* ]]
	fi || { echo "got: $got"; return 1; }
}

deb_arch=$(dpkg --print-architecture)
rpm_arch=$(rpm --eval '%{_arch}')
debs=("$dist"/${name}_*_"$deb_arch".deb)
rpms=("$dist"/${name}-*."$rpm_arch".rpm)
[ ${#debs[@]} = 1 ] && [ -f "${debs[0]}" ] || die "want exactly one $dist/${name}_*_$deb_arch.deb (make package)"
[ ${#rpms[@]} = 1 ] && [ -f "${rpms[0]}" ] || die "want exactly one $dist/${name}-*.$rpm_arch.rpm (make package)"
deb=${debs[0]}
rpm=${rpms[0]}

# --- state and cleanup ----------------------------------------------------
tmp=$(mktemp -d /tmp/do-fip-package-test.XXXXXX)
chmod 0755 "$tmp"
rpmdb="$tmp/rpmdb"

sim_pid=
cleanup() {
	set +e
	if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null; fi
	if dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -qv 'not-installed'; then
		dpkg -P "$name" >/dev/null 2>&1
	fi
	if [ -d "$rpmdb" ] && rpm --dbpath "$rpmdb" -q "$name" >/dev/null 2>&1; then
		rpm --dbpath "$rpmdb" -e --nodeps "$name" >/dev/null 2>&1
	fi
	rm -f /etc/do-fip/do-fip.conf.rpmsave
	rm -rf /var/lib/do-fip
	rmdir /etc/do-fip 2>/dev/null
	rm -rf "$tmp"
	umount /etc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# check DESCRIPTION COMMAND...: one counted check; output shown on failure.
check() {
	local desc=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then
		pass=$((pass + 1))
		echo "ok   $desc"
	else
		fail=$((fail + 1))
		echo "FAIL $desc"
		sed 's/^/     /' "$tmp/out"
	fi
}

# Runs a command the way keepalived runs a hook: as keepalived_script, with
# its primary group only (keepalived clears supplementary groups).
as_hook() {
	setpriv --reuid="$kuser" --regid="$(id -g "$kuser")" --clear-groups -- "$@"
}
as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
}

is() { # is WANT COMMAND...: the command's output equals WANT
	local want=$1 got
	shift
	got=$("$@") || return 1
	[ "$got" = "$want" ] || { echo "want: $want"; echo "got:  $got"; return 1; }
}
absent() { local p; for p; do [ ! -e "$p" ] || { echo "still there: $p"; return 1; }; done; }
present() { local p; for p; do [ -s "$p" ] || { echo "missing or empty: $p"; return 1; }; done; }
# contains FILE ERE
contains() { grep -Eq -- "$2" "$1" || { echo "no \"$2\" in:"; cat "$1"; return 1; }; }

files=(
	/usr/bin/do-fip
	/etc/do-fip/do-fip.conf
	/usr/share/man/man1/do-fip.1.gz
	/usr/share/bash-completion/completions/do-fip
	/usr/share/zsh/vendor-completions/_do-fip
	/usr/share/doc/do-fip/copyright
	/usr/share/doc/do-fip/changelog.Debian.gz
	/usr/share/lintian/overrides/do-fip
)
examples=()
if [ -d examples ]; then
	while IFS= read -r f; do examples+=("/usr/share/doc/do-fip/$f"); done < <(find examples -type f ! -name '.*' | LC_ALL=C sort)
fi

echo "package-test: $deb, $rpm"

# =========================== .deb ===========================================
mkdir -m 0755 "$tmp/lintian"
cp "$dist"/${name}_*.deb "$tmp/lintian/" && chmod 0644 "$tmp/lintian"/*.deb
for d in "$tmp/lintian"/*.deb; do
	check "lintian --fail-on error,warning $(basename "$d") (as nobody)" \
		as_nobody env HOME="$tmp/lintian" lintian --fail-on error,warning "$d"
done

dpkg-deb -c "$deb" >"$tmp/deb-list"
check "deb: config is root/keepalived_script 0640 in the archive" \
	contains "$tmp/deb-list" '^-rw-r----- root/keepalived_script .* \./etc/do-fip/do-fip.conf$'
check "deb: state dir is keepalived_script 0750 in the archive" \
	contains "$tmp/deb-list" '^drwxr-x--- keepalived_script/keepalived_script .* \./var/lib/do-fip/$'
check "deb: Recommends keepalived" is keepalived dpkg-deb -f "$deb" Recommends

check "deb: starting without $kuser" bash -c "! getent passwd $kuser"
check "dpkg -i" dpkg -i "$deb"
check "installed files present" present "${files[@]}" ${examples[@]+"${examples[@]}"}
check "config is a conffile" contains <(dpkg-query -W -f='${Conffiles}\n' "$name") '^ /etc/do-fip/do-fip.conf '
check "user $kuser exists with a nologin shell" \
	contains <(getent passwd "$kuser") ':/(usr/)?sbin/nologin$'
check "do-fip --version as $kuser, the way keepalived runs hooks" \
	version_ok as_hook /usr/bin/do-fip --version
check "runuser -u $kuser -- do-fip --version" \
	version_ok runuser -u "$kuser" -- /usr/bin/do-fip --version
check "binary is static" contains <(file -L /usr/bin/do-fip) 'statically linked'
check "installed config sets nothing (comments and blank lines only)" \
	bash -c "! grep -Ev '^[[:space:]]*(#|\$)' /etc/do-fip/do-fip.conf"
check "config owner and mode root:$kuser 640" is "root:$kuser 640" stat -c '%U:%G %a' /etc/do-fip/do-fip.conf
check "config readable by $kuser (primary group only)" as_hook cat /etc/do-fip/do-fip.conf
check "config not readable by nobody" bash -c '! setpriv --reuid=nobody --regid=nogroup --clear-groups -- cat /etc/do-fip/do-fip.conf'
check "state dir owner and mode $kuser:$kuser 750" is "$kuser:$kuser 750" stat -c '%U:%G %a' /var/lib/do-fip
check "state dir writable by $kuser" as_hook touch /var/lib/do-fip/package-test
# The installed binary, run as keepalived runs a hook, with the token in the
# installed config (0640 root:keepalived_script) and the installed state dir,
# moves a reserved IP on the built-in simulator (127.0.0.1 only, as nobody).
setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
	/usr/bin/do-fip simulate --listen 127.0.0.1:0 >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim_pid=$!
addr=
for _ in $(seq 100); do
	addr=$(sed -n 's|^dosim: serving http://||p' "$tmp/sim.out" | head -n 1)
	[ -n "$addr" ] && break
	sleep 0.05
done
check "simulator listening on 127.0.0.1" bash -c "[ -n '$addr' ] || { cat '$tmp/sim.err'; false; }"
cat >>/etc/do-fip/do-fip.conf <<EOF
ips = 203.0.113.10
token = dosim-demo-token
api_url = http://$addr
metadata_url = http://$addr/droplets/1001
syslog = off
timeout = 20s
EOF
check "do-fip assign as $kuser with the installed config and state dir (simulator)" \
	as_hook env -i PATH=/usr/bin:/bin DO_FIP_INSECURE_API=1 /usr/bin/do-fip assign
check "... it left its record in /var/lib/do-fip, owned by $kuser" \
	bash -c "[ -n \"\$(find /var/lib/do-fip -mindepth 1 -user $kuser -newer '$tmp/sim.out' -print -quit)\" ]"
# The preflight a person runs after installing: the installed example keepalived.conf, the installed config,
# binary, state dir and user pass it (exit 0, no FAIL line).
check "do-fip check passes with the installed example keepalived.conf and config (simulator)" \
	bash -c "env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DO_FIP_INSECURE_API=1 /usr/bin/do-fip check \
		--keepalived-config /usr/share/doc/do-fip/examples/keepalived/two-node/lb1.conf >'$tmp/check.out' 2>&1; \
		rc=\$?; cat '$tmp/check.out'; [ \$rc = 0 ] && ! grep -q '^FAIL' '$tmp/check.out'"
kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
sim_pid=

check "man -w do-fip" is /usr/share/man/man1/do-fip.1.gz man -w do-fip
check "man page renders without groff warnings" \
	bash -c 'MANWIDTH=80 man --warnings -l /usr/share/man/man1/do-fip.1.gz 2>&1 >/dev/null | (! grep .)'
check "bash completion parses" bash -n /usr/share/bash-completion/completions/do-fip

# An upgrade: the same package as a newer revision (VERSION-1 -> VERSION-1.1).
echo "# edited by package-test" >>/etc/do-fip/do-fip.conf
dpkg-deb -R "$deb" "$tmp/upgrade"
sed -i 's/^Version: .*/&.1/' "$tmp/upgrade/DEBIAN/control"
dpkg-deb -b "$tmp/upgrade" "$tmp/upgrade.deb" >/dev/null
check "upgrade to a newer revision (dpkg -i)" dpkg -i "$tmp/upgrade.deb"
check "after upgrade: the newer revision is installed" \
	is "$(dpkg-deb -f "$tmp/upgrade.deb" Version)" dpkg-query -W -f='${Version}' "$name"
check "after upgrade: edited config kept, still root:$kuser 640" bash -c \
	"grep -q '^# edited by package-test' /etc/do-fip/do-fip.conf && [ \"\$(stat -c '%U:%G %a' /etc/do-fip/do-fip.conf)\" = 'root:$kuser 640' ]"

check "dpkg -r" dpkg -r "$name"
check "after remove: binary and man page gone" absent /usr/bin/do-fip /usr/share/man/man1/do-fip.1.gz
check "after remove: edited config kept" grep -q '^# edited by package-test' /etc/do-fip/do-fip.conf
check "after remove: state kept" test -e /var/lib/do-fip/package-test
check "after remove: status config-files" is "deinstall ok config-files" dpkg-query -W -f='${Status}' "$name"

check "dpkg -P" dpkg -P "$name"
check "after purge: dpkg -L knows nothing" bash -c "! dpkg -L '$name'"
check "after purge: config, state and every file gone" \
	absent /etc/do-fip /var/lib/do-fip "${files[@]}" ${examples[@]+"${examples[@]}"}
check "after purge: $kuser kept (by design)" getent passwd "$kuser"

# ===================== maintainer scripts ====================================
# Run directly, against the private /etc: create, idempotent, leave an
# existing user alone, warn about a tutorial-made user.
scripts_test() {
	set -e
	forget_user
	sh packaging/scripts/preinstall.sh install
	sh packaging/scripts/preinstall.sh upgrade 1 # twice: must be idempotent
	echo "user=$(getent passwd "$kuser" | cut -d: -f1,6,7)"
	echo "group=$(id -gn "$kuser")"
	echo "warn1=$(sh packaging/scripts/postinstall.sh configure 2>&1 | grep -c warning)"
	echo "next=$(sh packaging/scripts/postinstall.sh configure 2>/dev/null | grep -c 'then run: sudo do-fip check$')"
	# The seed tutorial's user: primary group "users".
	forget_user
	useradd -g users -M "$kuser"
	echo "warn2=$(sh packaging/scripts/postinstall.sh configure 2>&1 | grep -c "primary group of user $kuser is \"users\"")"
	echo "rpmwarn=$(sh packaging/scripts/postinstall.sh 1 2>&1 | grep -c "usermod -g $kuser")"
	sh packaging/scripts/preinstall.sh install
	echo "after=$(id -gn "$kuser")"
	# Back to a machine without the user, for the rpm's %pre below.
	forget_user
}
(scripts_test) >"$tmp/scripts-out" 2>&1
check "preinstall creates $kuser: no home, nologin shell" \
	contains "$tmp/scripts-out" "^user=$kuser:/nonexistent:/(usr/)?sbin/nologin$"
check "preinstall makes group $kuser the user's primary group" contains "$tmp/scripts-out" "^group=$kuser$"
check "postinstall does not warn about a user it made" contains "$tmp/scripts-out" '^warn1=0$'
check "postinstall points to do-fip check" contains "$tmp/scripts-out" '^next=1$'
check "postinstall warns about a tutorial-made user (primary group users)" contains "$tmp/scripts-out" '^warn2=1$'
check "postinstall warns the same under rpm (\$1 = 1)" contains "$tmp/scripts-out" '^rpmwarn=1$'
check "preinstall leaves an existing user alone" contains "$tmp/scripts-out" '^after=users$'

# =========================== .rpm ===========================================
# Queries only: rpm -qp reads headers, never the payload.
for r in "$dist"/${name}-*.rpm; do
	b=$(basename "$r")
	rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} (%{FILEFLAGS:fflags}) %{FILENAMES}\n]' "$r" >"$tmp/rpm-files" 2>&1
	cat >"$tmp/rpm-want" <<-EOF
		drwxr-xr-x root:root () /etc/do-fip
		-rw-r----- root:$kuser (cn) /etc/do-fip/do-fip.conf
		-rwxr-xr-x root:root () /usr/bin/do-fip
		-rw-r--r-- root:root () /usr/share/bash-completion/completions/do-fip
		-rw-r--r-- root:root (l) /usr/share/licenses/do-fip/LICENSE
		-rw-r--r-- root:root (d) /usr/share/man/man1/do-fip.1.gz
		-rw-r--r-- root:root () /usr/share/zsh/site-functions/_do-fip
		drwxr-x--- $kuser:$kuser () /var/lib/do-fip
	EOF
	for e in ${examples[@]+"${examples[@]}"}; do echo "-rw-r--r-- root:root (d) $e"; done >>"$tmp/rpm-want"
	LC_ALL=C sort -k4 -o "$tmp/rpm-want" "$tmp/rpm-want"
	LC_ALL=C sort -k4 -o "$tmp/rpm-files" "$tmp/rpm-files"
	check "rpm $b: file list, modes, owners, flags (c=%config n=noreplace d=%doc l=%license)" \
		diff "$tmp/rpm-want" "$tmp/rpm-files"
	rpm -qp --scripts "$r" >"$tmp/rpm-scripts" 2>&1
	check "rpm $b: %pre creates $kuser" contains "$tmp/rpm-scripts" 'useradd --system'
	check "rpm $b: %post warns about the primary group" contains "$tmp/rpm-scripts" 'postinstall scriptlet'
	check "rpm $b: no purge in %postun (rpm keeps state, .rpmsave for config)" bash -c "! grep -q 'rm -rf /var/lib/do-fip' '$tmp/rpm-scripts'"
	check "rpm $b: Recommends keepalived, xz payload, fixed build host" \
		is "keepalived xz do-fip.build" rpm -qp --qf '[%{RECOMMENDNAME}] %{PAYLOADCOMPRESSOR} %{BUILDHOST}\n' "$r"
done

# rpmlint unpacks the payload with "cpio -id"; nfpm's payload paths are
# absolute. As nobody, with this cpio, it unpacks into its own temp dir.
mkdir -p "$tmp/bin" "$tmp/rpmlint"
printf '#!/bin/sh\nexec /usr/bin/cpio --no-absolute-filenames "$@"\n' >"$tmp/bin/cpio"
chmod 0755 "$tmp/bin" "$tmp/bin/cpio" "$tmp/rpmlint"
cp "$dist"/${name}-*.rpm packaging/rpmlint.toml "$tmp/rpmlint/"
chmod 0644 "$tmp/rpmlint"/*
check "rpmlint clean (as nobody)" bash -c "cd '$tmp/rpmlint' && setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
	env HOME='$tmp/rpmlint' PATH='$tmp/bin:$PATH' rpmlint -c '$tmp/rpmlint/rpmlint.toml' '$tmp/rpmlint'/*.rpm"

mkdir -p "$rpmdb"
check "rpm: starting without $kuser" bash -c "! getent passwd $kuser"
check "rpm -i (throwaway rpm database)" rpm --dbpath "$rpmdb" -i --nodeps "$rpm"
check "rpm: %pre created $kuser, primary group $kuser" is "$kuser" id -gn "$kuser"
check "rpm: installed files verify (rpm -V)" rpm --dbpath "$rpmdb" -V "$name"
check "rpm: config owner and mode root:$kuser 640" is "root:$kuser 640" stat -c '%U:%G %a' /etc/do-fip/do-fip.conf
check "rpm: do-fip --version as $kuser" version_ok as_hook /usr/bin/do-fip --version
echo "# edited by package-test" >>/etc/do-fip/do-fip.conf
check "rpm -e" rpm --dbpath "$rpmdb" -e --nodeps "$name"
check "after erase: binary gone, edited config saved as .rpmsave" \
	bash -c "[ ! -e /usr/bin/do-fip ] && grep -q '^# edited by package-test' /etc/do-fip/do-fip.conf.rpmsave"

check "the real /etc still has the keepalived_script it had (or none)" \
	is "$(cat "$etc_copy/passwd-line")" bash -c "grep '^$kuser:' /proc/self/fd/8/passwd || true"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
