package preflight

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/do-fip/do-fip/config"
	"github.com/do-fip/do-fip/doapi"
	"github.com/do-fip/do-fip/logging"
	"github.com/do-fip/do-fip/metadata"
)

// Defaults for Options fields left empty.
const (
	DefaultKeepalivedConfig = "/etc/keepalived/keepalived.conf"
	DefaultProcNet          = "/proc/net"
	// DefaultScriptUser is the user keepalived (1.3.0 and later) runs scripts as when script_user is not set
	// and the user exists.
	DefaultScriptUser = "keepalived_script"
	// maxSkew is how far this host's clock may be from the API's before the check warns.
	maxSkew = 5 * time.Second
)

// Options says what to check. Every path can be pointed elsewhere, so that tests build each setup in a
// directory of their own.
type Options struct {
	KeepalivedConfig string // default DefaultKeepalivedConfig
	Keepalived       string // the keepalived binary read for its version; default: found on PATH or in /usr/sbin
	Config           *config.Config
	ConfigErr        error // why Config is nil
	ConfigPath       string
	Getenv           func(string) string
	IPs              []netip.Addr // given to the check with --ip, on top of the configured ones
	Ports            []int        // TCP ports that must listen where reserved-IP traffic arrives
	ProcNet          string       // default /proc/net
	UserAgent        string
}

// Run runs every check and returns the report. It never moves an IP and writes no file.
func Run(ctx context.Context, o Options) *Report {
	start := time.Now()
	r := &Report{}
	if o.KeepalivedConfig == "" {
		o.KeepalivedConfig = DefaultKeepalivedConfig
	}
	if o.ProcNet == "" {
		o.ProcNet = DefaultProcNet
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	cfg := o.Config
	if cfg == nil {
		r.fail("do-fip config", "correct the file, or name another with --config", "%v", o.ConfigErr)
	} else {
		r.ok("do-fip config", "%s: state dir %s, timeout %s", describePath(cfg.ConfigPath), cfg.StateDir, cfg.Timeout)
	}

	ver := r.checkVersion(o.Keepalived, o.Getenv)
	m := r.checkKeepalivedConf(o.KeepalivedConfig, ver, cfg)
	ids := r.checkHookUser(m, ver)

	var md *metadata.Metadata
	if cfg != nil {
		for _, id := range ids {
			r.checkAccess(cfg, o.Getenv, id)
		}
		if m != nil && len(ids) > 0 {
			r.checkScriptSecurity(m, ids)
		}
		md = r.checkDroplet(ctx, cfg, &r.MetadataRequests)
		ips := allIPs(cfg, o.IPs, m)
		hook := ident{user: "root", group: DefaultScriptUser} // who the token file is for
		if len(ids) > 0 {
			hook = ids[0]
		}
		r.checkAPI(ctx, cfg, o, ips, md, hook)
		r.checkLogging(cfg, ids)
		anchor := ""
		if md != nil {
			anchor = md.AnchorIPv4
		}
		var v6 []netip.Addr
		for _, ip := range ips {
			if ip.Is6() {
				v6 = append(v6, ip)
			}
		}
		r.checkTraffic(o.ProcNet, o.Ports, anchor, v6)
	}
	r.ElapsedMS = time.Since(start).Milliseconds()
	return r
}

func describePath(p string) string {
	if fi, err := os.Stat(p); err == nil {
		return p + " (" + describe(fi) + ")"
	}
	return p + " (none; defaults)"
}

func (r *Report) checkVersion(named string, getenv func(string) string) *Version {
	const name = "keepalived"
	bin, err := findKeepalived(named, getenv)
	if err != nil {
		r.warn(name, "apt-get install keepalived (dnf install keepalived), or name it with --keepalived", "%v: cannot tell which options it supports", err)
		return nil
	}
	v, err := keepalivedVersion(bin)
	if err != nil {
		r.warn(name, "name the keepalived binary with --keepalived", "%v: cannot tell which options it supports", err)
		return nil
	}
	r.ok(name, "%s is keepalived %s", bin, v)
	return &v
}

func (r *Report) checkKeepalivedConf(path string, ver *Version, cfg *config.Config) *model {
	const name = "keepalived.conf"
	c, err := ParseConf(path)
	if err != nil {
		fix := "install -m 0644 /usr/share/doc/do-fip/examples/keepalived/two-node/lb1.conf " + path + " (then set its addresses), or name the file with --keepalived-config"
		if !isNotExist(err) {
			fix = "make it readable by root, or name the file with --keepalived-config"
		}
		r.fail(name, fix, "%v", err)
		return nil
	}
	files := path
	if n := len(c.Files); n > 1 {
		files = fmt.Sprintf("%s and %d included files", path, n-1)
	}
	r.ok(name, "read %s", files)
	for _, p := range c.Problems {
		r.warn(name, "correct the line (keepalived skips what it cannot parse)", "%s", p)
	}
	m := buildModel(c)
	timeout := 60 * time.Second
	if cfg != nil {
		timeout = cfg.Timeout
	}
	r.checkHookLines(m)
	r.checkWiring(m, ver)
	r.checkSplitBrain(m, ver, timeout)
	r.checkUnicast(m)
	r.checkInstanceIPs(m)
	return m
}

// checkHookUser finds who keepalived runs the do-fip hooks as: script_user in global_defs, else
// keepalived_script if it exists, else root; and a user named on a hook line or in a vrrp_script.
func (r *Report) checkHookUser(m *model, ver *Version) []ident {
	const name = "hook user"
	var out []ident
	add := func(id ident) {
		for _, x := range out {
			if x.uid == id.uid && x.gid == id.gid {
				return
			}
		}
		out = append(out, id)
	}
	var def ident
	switch {
	case m != nil && m.scriptUser != "":
		id, err := lookupIdent(m.scriptUser, m.scriptGroup)
		if err != nil {
			r.fail(name, "useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "+m.scriptUser,
				"script_user %s: %v: keepalived runs no script at all", strings.TrimSpace(m.scriptUser+" "+m.scriptGroup), err)
			return nil
		}
		id.why = "script_user in global_defs"
		def = id
	default:
		if id, err := lookupIdent(DefaultScriptUser, ""); err == nil {
			if ver != nil && !ver.Less(v134) && ver.Less(v136) {
				r.warn(name, "script_user "+DefaultScriptUser+" in global_defs",
					"keepalived %s fails to resolve its default user %s and runs the hooks as root", ver, DefaultScriptUser)
				def = ident{user: "root", group: "root", why: "keepalived " + ver.String() + "'s default"}
			} else {
				id.why = "no script_user; keepalived's default user exists"
				def = id
			}
		} else {
			if m != nil && m.scriptSecurity {
				r.fail(name, "useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "+DefaultScriptUser+" (or script_user root in global_defs)",
					"enable_script_security, no script_user and no %s user: keepalived disables every script", DefaultScriptUser)
				return nil
			}
			def = ident{user: "root", group: "root", why: "no script_user and no " + DefaultScriptUser + " user"}
		}
	}
	add(def)
	if m != nil {
		for _, h := range m.hooks() {
			u, g := h.user, h.group
			if h.keyword == "script" {
				for _, vs := range m.scripts {
					if vs.hook == h && vs.user != "" {
						u, g = vs.user, vs.group
					}
				}
			}
			if u == "" || !h.quoted {
				continue
			}
			id, err := lookupIdent(u, g)
			if err != nil {
				r.fail(name, "useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "+u,
					"%s: %s runs as %s: %v: keepalived drops the hook", h.stmt.Where(), h.stmt.Source(), u, err)
				continue
			}
			id.why = "named at " + h.stmt.Where()
			add(id)
		}
	}
	for _, id := range out {
		r.ok(name, "do-fip hooks run as user %s with group %s only (%s)", id.user, id.group, id.why)
	}
	return out
}

// checkAccess: the hook's user, with its one group, can read the config and the token file and write the
// state dir and the files in it.
func (r *Report) checkAccess(cfg *config.Config, getenv func(string) string, id ident) {
	name := "access " + id.user
	bad := false
	read := func(what, p string) {
		err := canAccess(p, id, accR)
		if err == nil {
			return
		}
		bad = true
		var d *errDenied
		if errors.As(err, &d) {
			r.fail(name, readFix(p, d, id), "%s cannot read the %s %s: %v", id, what, p, err)
			return
		}
		r.fail(name, "", "%s %s: %v", what, p, err)
	}
	if _, err := os.Stat(cfg.ConfigPath); err == nil {
		read("config", cfg.ConfigPath)
	}
	if _, src, _ := cfg.Token(getenv); strings.HasPrefix(src, "token file ") {
		read("token file", strings.TrimPrefix(src, "token file "))
	}

	dir := cfg.StateDir
	fixDir := fmt.Sprintf("install -d -o %s -g %s -m 0750 %s", id.user, id.group, dir)
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		bad = true
		r.fail(name, fixDir, "state dir %s: %v", dir, err)
	case !fi.IsDir():
		bad = true
		r.fail(name, "rm "+dir+" && "+fixDir, "state dir %s is not a directory", dir)
	default:
		if err := canAccess(dir, id, accW|accX); err != nil {
			bad = true
			r.fail(name, fmt.Sprintf("chown -R %s:%s %s", id.user, id.group, dir), "%s cannot write the state dir %s: %v", id, dir, err)
			break
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			efi, err := os.Stat(p)
			if err != nil || !efi.Mode().IsRegular() {
				continue
			}
			if !allowed(id, efi, accR|accW) {
				bad = true
				r.fail(name, fmt.Sprintf("chown -R %s:%s %s", id.user, id.group, dir),
					"%s cannot read and write %s (%s): a do-fip run by hand as another user left it", id, p, describe(efi))
				break
			}
		}
	}
	if !bad {
		r.ok(name, "%s can read the config and the token file and write the state dir %s", id, dir)
	}
}

// readFix suggests how to let id read p: the tutorial's user whose primary group is not the file's group
// gets that group as its primary group; anyone else gets the file's group.
func readFix(p string, d *errDenied, id ident) string {
	if d.path != p {
		return "chmod o+x " + d.path
	}
	_, gid := owner(d.fi)
	if d.fi.Mode().Perm()&0o040 != 0 && gid != id.gid {
		if u, err := user.Lookup(id.user); err == nil {
			if gids, err := u.GroupIds(); err == nil && contains(gids, strconv.Itoa(gid)) {
				return fmt.Sprintf("usermod -g %s %s (keepalived runs hooks with the primary group only)", groupName(gid), id.user)
			}
		}
	}
	return fmt.Sprintf("chgrp %s %s && chmod 0640 %s", id.group, p, p)
}

// checkScriptSecurity applies keepalived's script-path rule to each do-fip program named in keepalived.conf.
func (r *Report) checkScriptSecurity(m *model, ids []ident) {
	const name = "script path"
	rootHook := false
	for _, id := range ids {
		rootHook = rootHook || id.uid == 0
	}
	seen := map[string]bool{}
	for _, h := range m.hooks() {
		p := h.cmd[0]
		if seen[p] {
			continue
		}
		seen[p] = true
		fi, err := os.Stat(p)
		if err != nil {
			r.fail(name, "install do-fip as "+p+" (the package installs /usr/bin/do-fip), or correct the path in keepalived.conf",
				"%s (%s): %v: keepalived cannot run the hook", p, h.stmt.Where(), err)
			continue
		}
		for _, id := range ids {
			if err := canAccess(p, id, accX); err != nil {
				r.fail(name, "chmod 0755 "+p, "%s cannot run %s: %v", id, p, err)
			}
		}
		elem, why, err := unsafePath(p)
		if err != nil {
			r.fail(name, "", "%s: %v", p, err)
			continue
		}
		if elem != "" {
			fix := fmt.Sprintf("chown root:root %s && chmod go-w %s (or install do-fip in /usr/bin)", elem, elem)
			var what string
			switch {
			case rootHook && m.scriptSecurity:
				what = "with enable_script_security keepalived refuses to run the hook as root from there (it says so only at INFO level)"
			case rootHook:
				what = "keepalived runs the hook as root from there anyway, and whoever can write there runs code as root"
			default:
				what = "whoever can write there can replace do-fip, which runs as " + ids[0].user + " and reads the API token"
			}
			r.fail(name, fix, "%s: %s %s: %s", p, elem, why, what)
			continue
		}
		r.ok(name, "%s (%s): every directory on it is root's and not writable by others, as enable_script_security requires", p, describe(fi))
	}
}

// countingTransport counts metadata requests.
type countingTransport struct {
	base http.RoundTripper
	n    *atomic.Int64
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.base.RoundTrip(req)
}

func (r *Report) checkDroplet(ctx context.Context, cfg *config.Config, count *int) *metadata.Metadata {
	const name = "droplet"
	var n atomic.Int64
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	c := metadata.NewClient(metadata.WithBaseURL(cfg.MetadataURL), metadata.WithAttempts(2), metadata.WithRetryWait(50*time.Millisecond),
		metadata.WithHTTPClient(&http.Client{Timeout: 2 * time.Second, Transport: countingTransport{base: tr, n: &n}}))
	md, err := c.Get(ctx)
	*count = int(n.Load())
	if err != nil {
		if cfg.DropletID != 0 {
			r.warn(name, "allow this droplet to reach "+cfg.MetadataURL+" (a firewall rule may block 169.254.169.254)",
				"the metadata service does not answer (%v); droplet_id %d is set, so a move can start, but not be seen landing", err, cfg.DropletID)
		} else {
			r.fail(name, "run do-fip on the droplet and allow it to reach "+cfg.MetadataURL+" (or set droplet_id in "+cfg.ConfigPath+")",
				"the metadata service does not answer (%v): do-fip cannot tell which droplet it runs on", err)
		}
		return nil
	}
	if cfg.DropletID != 0 && cfg.DropletID != md.DropletID {
		r.fail(name, "delete droplet_id from "+cfg.ConfigPath, "droplet_id %d is set, but this is droplet %d: do-fip would move the IP to another droplet", cfg.DropletID, md.DropletID)
	}
	v6 := ""
	if md.PublicIPv6 != "" {
		v6 = ", IPv6 " + md.PublicIPv6
	}
	if md.AnchorIPv4 == "" {
		r.warn(name, "reserved IPv4 needs a droplet with an anchor IP (droplets created before October 2015 and custom images may lack one)",
			"droplet %d %s, region %s, no anchor IP%s", md.DropletID, md.Hostname, md.Region, v6)
	} else {
		r.ok(name, "droplet %d %s, region %s, anchor IP %s%s", md.DropletID, md.Hostname, md.Region, md.AnchorIPv4, v6)
	}
	return md
}

func allIPs(cfg *config.Config, given []netip.Addr, m *model) []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	lists := [][]netip.Addr{given, cfg.IPs}
	if m != nil {
		lists = append(lists, m.hookIPs())
	}
	for _, l := range lists {
		for _, ip := range l {
			if !seen[ip] {
				seen[ip] = true
				out = append(out, ip)
			}
		}
	}
	return out
}

// scopes do-fip's token needs.
const scopes = "reserved_ip:read, reserved_ip:update, actions:read (and droplet:read)"

// checkAPI: the token is there, from a safe file, and the API accepts it for each reserved IP, which must be
// in this droplet's region; and the API's clock. The token is looked up as the hook's user finds it; its
// group should own the token file.
func (r *Report) checkAPI(ctx context.Context, cfg *config.Config, o Options, ips []netip.Addr, md *metadata.Metadata, hook ident) {
	hookGroup := hook.group
	if len(ips) == 0 {
		r.fail("reserved IPs", "ips = 203.0.113.10 in "+cfg.ConfigPath+", or --ip on each hook line", "none configured: do-fip would have nothing to move")
	}
	tok, src, err := cfg.TokenFor(o.Getenv, hook.uid)
	switch {
	case err != nil:
		msg, _, _ := strings.Cut(err.Error(), " (fix: ")
		fix := "install -o root -g " + hookGroup + " -m 0640 /dev/stdin /etc/do-fip/token (paste the token, then Ctrl-D) and token_file = /etc/do-fip/token in " + cfg.ConfigPath
		if errors.Is(err, config.ErrInsecureFile) {
			p := strings.TrimPrefix(src, "token file ")
			if !strings.HasPrefix(src, "token file ") {
				p = cfg.ConfigPath
			}
			fix = "chown root:" + hookGroup + " " + p + " && chmod 0640 " + p
		}
		r.fail("token", fix, "%s", msg)
		return
	case !strings.HasPrefix(src, "token file ") && !strings.HasPrefix(src, "config file "):
		r.warn("token", "token_file = /etc/do-fip/token in "+cfg.ConfigPath,
			"from %s in this shell: keepalived's hooks get keepalived's environment, not this shell's", src)
	default:
		r.ok("token", "from the %s", src)
	}
	if len(ips) == 0 {
		return
	}
	api, err := doapi.New(doapi.Options{Token: tok.Reveal(), BaseURL: cfg.APIURL, AllowInsecure: cfg.InsecureAPI,
		UserAgent: o.UserAgent, RetryMax: 1, AttemptTimeout: 5 * time.Second})
	if err != nil {
		r.fail("token", "", "%v", err)
		return
	}
	defer func() { r.APIRequests = api.Requests() }()
	infos := make([]*doapi.IP, len(ips))
	errs := make([]error, len(ips))
	var wg sync.WaitGroup
	for i, ip := range ips {
		wg.Add(1)
		go func() {
			defer wg.Done()
			infos[i], errs[i] = api.GetIP(ctx, ip)
		}()
	}
	wg.Wait()
	read := 0
	for i, ip := range ips {
		name := "reserved IP " + ip.String()
		err, info := errs[i], infos[i]
		switch {
		case errors.Is(err, doapi.ErrUnauthorized):
			r.fail("token", "create a new token with the scopes "+scopes+" and put it in the token file",
				"the API refused the token (401): %v", err)
			return
		case errors.Is(err, doapi.ErrForbidden):
			r.fail("token", "give the token the scope reserved_ip:read (control panel: API, Tokens; do-fip needs "+scopes+")",
				"reading %s answered 403: the token lacks the reserved_ip:read scope", ip)
			continue
		case errors.Is(err, doapi.ErrNotFound):
			r.fail(name, "check the address, and that the token belongs to the team that holds the IP", "the API does not know it (404): %v", err)
			continue
		case err != nil:
			r.fail(name, "", "%v", err)
			continue
		}
		read++
		holder := "held by no droplet"
		if info.DropletID != 0 {
			holder = fmt.Sprintf("held by droplet %d %s", info.DropletID, info.DropletName)
		}
		switch {
		case md != nil && info.Region != "" && info.Region != md.Region:
			r.fail(name, fmt.Sprintf("use a reserved IP of %s (doctl compute reserved-ip create --region %s)", md.Region, md.Region),
				"in region %s, this droplet in %s: DigitalOcean moves a reserved IP only to a droplet of its region", info.Region, md.Region)
		case md != nil && ip.Is6() && md.PublicIPv6 == "":
			r.fail(name, fmt.Sprintf("enable IPv6 on droplet %d (doctl compute droplet-action enable-ipv6 %d)", md.DropletID, md.DropletID),
				"a reserved IPv6 needs IPv6 on the droplet, and droplet %d has none", md.DropletID)
		default:
			r.ok(name, "region %s, %s", info.Region, holder)
		}
	}
	if read > 0 {
		r.ok("token", "the API accepts it and it can read the reserved IPs")
		r.warn("token", "check the token's scopes in the control panel (API, Tokens): "+scopes+", or full access",
			"whether it may move an IP cannot be tested without moving one: it needs reserved_ip:update and actions:read")
	}
	if skew, ok := api.ClockSkew(); ok {
		if skew > maxSkew || skew < -maxSkew {
			dir := "ahead of"
			if skew < 0 {
				dir, skew = "behind", -skew
			}
			r.warn("clock", "timedatectl set-ntp true (or chronyc makestep)",
				"this host's clock is %s %s the API's (its Date header): logs, records and rate-limit resets read wrong", skew.Round(time.Second), dir)
		} else {
			r.ok("clock", "within %s of the API's (its Date header)", maxSkew)
		}
	}
}

// checkLogging: where the hook's runs will be logged, since keepalived throws their output away.
func (r *Report) checkLogging(cfg *config.Config, ids []ident) {
	const name = "logging"
	sock := logging.SyslogSocket()
	var where []string
	switch {
	case cfg.Syslog != "off" && sock != "":
		where = append(where, "syslog/journald through "+sock+" (journalctl -t do-fip)")
	case cfg.Syslog == "on":
		r.warn(name, "syslog = auto in "+cfg.ConfigPath+", or start a syslog daemon or journald",
			"syslog = on, but there is no syslog socket (/dev/log)")
	}
	if cfg.LogFile != "" {
		p := cfg.LogFile
		target, want := p, accW
		if _, err := os.Stat(p); err != nil {
			target, want = filepath.Dir(p), accW|accX
		}
		for _, id := range ids {
			if err := canAccess(target, id, want); err != nil {
				r.fail(name, fmt.Sprintf("install -o %s -g %s -m 0640 /dev/null %s", id.user, id.group, p),
					"%s cannot write the log file %s: %v", id, p, err)
				return
			}
		}
		where = append(where, "the file "+p)
	}
	if len(where) == 0 {
		fallback := filepath.Join(cfg.StateDir, "do-fip.log")
		for _, id := range ids {
			if err := canAccess(cfg.StateDir, id, accW|accX); err != nil {
				r.fail(name, "log_file = /var/log/do-fip/do-fip.log in "+cfg.ConfigPath+" (a file the hook user can write), or make the state dir writable",
					"no syslog socket, no log_file, and %s cannot write %s: hook runs would leave no trace (keepalived discards their output)", id, fallback)
				return
			}
		}
		where = append(where, fallback+" (no syslog socket and no log_file; kept under 1 MiB)")
	}
	r.ok(name, "hook runs log to %s", strings.Join(where, " and "))
}
