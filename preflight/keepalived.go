package preflight

import (
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Hook keywords of a vrrp_instance or vrrp_sync_group, and the do-fip command each documented wiring runs
// there.
var hookKeywords = []string{"notify", "notify_master", "notify_backup", "notify_fault", "notify_stop",
	"notify_master_rx_lower_pri"}

// hook is a do-fip command line in keepalived.conf.
type hook struct {
	stmt    *Stmt
	keyword string   // notify, notify_master, ..., or script (a vrrp_script)
	cmd     []string // the command's words as keepalived runs them
	quoted  bool     // the command was quoted as one word
	user    string   // a user named after a quoted command ("" = the default script user)
	group   string
}

func (h *hook) sub() string { // do-fip's subcommand, or ""
	if len(h.cmd) > 1 {
		return h.cmd[1]
	}
	return ""
}

// flag returns the value of --name in the command ("--name V" or "--name=V").
func (h *hook) flag(name string) (string, bool) {
	for i, w := range h.cmd {
		if w == "--"+name && i+1 < len(h.cmd) {
			return h.cmd[i+1], true
		}
		if v, ok := strings.CutPrefix(w, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func (h *hook) ips() []string {
	var out []string
	for i, w := range h.cmd {
		if w == "--ip" && i+1 < len(h.cmd) {
			out = append(out, h.cmd[i+1])
		} else if v, ok := strings.CutPrefix(w, "--ip="); ok {
			out = append(out, v)
		}
	}
	return out
}

// isDoFip says whether a command's program is do-fip.
func isDoFip(program string) bool { return path.Base(program) == "do-fip" }

// parseHook reads a hook statement (keyword "command" [user [group]]). It returns nil when the command is not
// do-fip. Unquoted, keepalived takes only the first word as the command and the next two as user and group.
func parseHook(s *Stmt) *hook {
	if len(s.Words) < 2 {
		return nil
	}
	w := s.Words[1]
	h := &hook{stmt: s, keyword: s.Keyword(), quoted: w.Quoted}
	if w.Quoted {
		words, _ := splitWords(w.Text)
		for _, x := range words {
			h.cmd = append(h.cmd, x.Text)
		}
		h.user, h.group = s.Arg(2), s.Arg(3)
	} else {
		for _, x := range s.Words[1:] {
			h.cmd = append(h.cmd, x.Text)
		}
	}
	if len(h.cmd) == 0 || !isDoFip(h.cmd[0]) {
		return nil
	}
	return h
}

// vrrpScript is a vrrp_script block.
type vrrpScript struct {
	name     string
	stmt     *Stmt
	hook     *hook // nil when the script is not do-fip
	interval time.Duration
	timeout  time.Duration // keepalived's default: the interval
	weight   int
	user     string // the script's own `user` keyword
	group    string
}

// instance is a vrrp_instance with the hooks of its sync group, if any.
type instance struct {
	name    string
	stmt    *Stmt
	hooks   []*hook
	tracked map[string]*Stmt // track_script entries by script name
	peers   []string
}

// model is what the checks need from keepalived.conf.
type model struct {
	conf           *Conf
	scriptUser     string // global_defs script_user
	scriptGroup    string
	scriptSecurity bool
	scripts        map[string]*vrrpScript
	scriptOrder    []string
	instances      []*instance
	lines          []*hook // every do-fip line, in file order, including those keepalived drops
}

// runs says whether keepalived runs the line as written: an unquoted command with more words is dropped (a
// notify) or loses its arguments (a vrrp_script).
func (h *hook) runs() bool { return h.quoted || len(h.cmd) == 1 }

func seconds(s string) (time.Duration, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

func buildModel(c *Conf) *model {
	m := &model{conf: c, scripts: map[string]*vrrpScript{}}
	for _, g := range c.Find("global_defs") {
		if s := g.First("script_user"); s != nil {
			m.scriptUser, m.scriptGroup = s.Arg(1), s.Arg(2)
		}
		if g.First("enable_script_security") != nil {
			m.scriptSecurity = true
		}
	}
	for _, s := range c.Find("vrrp_script") {
		vs := &vrrpScript{name: s.Arg(1), stmt: s, interval: time.Second}
		if st := s.First("script"); st != nil {
			if h := parseHook(st); h != nil {
				m.lines = append(m.lines, h)
				if h.runs() {
					vs.hook = h
				}
			}
		}
		if st := s.First("interval"); st != nil {
			if d, ok := seconds(st.Arg(1)); ok {
				vs.interval = d
			}
		}
		vs.timeout = vs.interval
		if st := s.First("timeout"); st != nil {
			if d, ok := seconds(st.Arg(1)); ok {
				vs.timeout = d
			}
		}
		if st := s.First("weight"); st != nil {
			vs.weight, _ = strconv.Atoi(st.Arg(1))
		}
		if st := s.First("user"); st != nil {
			vs.user, vs.group = st.Arg(1), st.Arg(2)
		}
		if _, dup := m.scripts[vs.name]; !dup {
			m.scriptOrder = append(m.scriptOrder, vs.name)
		}
		m.scripts[vs.name] = vs
	}
	groupHooks := map[string][]*hook{} // instance name → hooks of its sync group
	for _, g := range c.Find("vrrp_sync_group") {
		var hooks []*hook
		for _, k := range hookKeywords {
			for _, st := range g.Find(k) {
				if h := parseHook(st); h != nil {
					m.lines = append(m.lines, h)
					if h.runs() {
						hooks = append(hooks, h)
					}
				}
			}
		}
		for _, members := range g.Find("group") {
			for _, line := range members.Children {
				for _, w := range line.Words { // one instance a line, or several
					groupHooks[w.Text] = append(groupHooks[w.Text], hooks...)
				}
			}
		}
	}
	for _, s := range c.Find("vrrp_instance") {
		in := &instance{name: s.Arg(1), stmt: s, tracked: map[string]*Stmt{}}
		for _, k := range hookKeywords {
			for _, st := range s.Find(k) {
				if h := parseHook(st); h != nil {
					m.lines = append(m.lines, h)
					if h.runs() {
						in.hooks = append(in.hooks, h)
					}
				}
			}
		}
		in.hooks = append(in.hooks, groupHooks[in.name]...)
		for _, t := range s.Find("track_script") {
			for _, e := range t.Children {
				in.tracked[e.Keyword()] = e
			}
		}
		for _, p := range s.Find("unicast_peer") {
			for _, e := range p.Children {
				in.peers = append(in.peers, e.Keyword())
			}
		}
		m.instances = append(m.instances, in)
	}
	return m
}

// hooks returns every do-fip line keepalived runs, in file order.
func (m *model) hooks() []*hook {
	var out []*hook
	for _, h := range m.sorted() {
		if h.runs() {
			out = append(out, h)
		}
	}
	return out
}

// sorted returns every do-fip line, in file order.
func (m *model) sorted() []*hook {
	out := append([]*hook{}, m.lines...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].stmt, out[j].stmt
		if a.File != b.File {
			return false
		}
		return a.Line < b.Line
	})
	return out
}

// doFipInstances are the instances with at least one do-fip hook.
func (m *model) doFipInstances() []*instance {
	var out []*instance
	for _, in := range m.instances {
		if len(in.hooks) > 0 {
			out = append(out, in)
		}
	}
	return out
}

// reconcileScripts are the vrrp_scripts an instance tracks that run do-fip reconcile.
func (m *model) reconcileScripts(in *instance) []*vrrpScript {
	var out []*vrrpScript
	for _, n := range m.scriptOrder {
		vs := m.scripts[n]
		if _, ok := in.tracked[n]; ok && vs.hook != nil && vs.hook.sub() == "reconcile" {
			out = append(out, vs)
		}
	}
	return out
}

// wantSub is the do-fip command each hook keyword must run, as the documented wirings do; per-state lines
// take the state as their one argument.
func wantSub(keyword string) (sub, arg string) {
	switch keyword {
	case "notify":
		return "notify", ""
	case "notify_master":
		return "assign|notify", "MASTER"
	case "notify_backup":
		return "notify", "BACKUP"
	case "notify_fault":
		return "notify", "FAULT"
	case "notify_stop":
		return "notify", "STOP"
	case "notify_master_rx_lower_pri", "script":
		return "reconcile", ""
	}
	return "", ""
}

// quotedLine writes a hook statement as it should be: the whole command in quotes.
func quotedLine(h *hook) string {
	line := h.keyword + ` "` + strings.Join(h.cmd, " ") + `"`
	if h.user != "" {
		line += " " + h.user
		if h.group != "" {
			line += " " + h.group
		}
	}
	return line
}

// checkHookLines: every do-fip line is quoted as one command and runs the subcommand its keyword needs.
func (r *Report) checkHookLines(m *model) {
	const name = "hook lines"
	hooks := m.sorted()
	bad := 0
	for _, h := range hooks {
		s := h.stmt
		if !h.quoted && len(h.cmd) > 1 {
			bad++
			if h.keyword == "script" {
				r.fail(name, quotedLine(h), "%s: %s is not quoted: keepalived runs %s without its arguments", s.Where(), s.Source(), h.cmd[0])
			} else {
				r.fail(name, quotedLine(h), "%s: %s is not quoted: keepalived reads %q as the user to run it as and drops the hook without a word (keepalived --config-test does not notice)",
					s.Where(), s.Source(), h.cmd[1])
			}
			continue
		}
		sub, arg := wantSub(h.keyword)
		got := h.sub()
		okSub := false
		for _, w := range strings.Split(sub, "|") {
			okSub = okSub || got == w
		}
		want := strings.Split(sub, "|")[0]
		if h.keyword == "notify_master" && got == "notify" {
			want = "notify"
		}
		fixCmd := append([]string{h.cmd[0], want}, flagsOf(h.cmd)...)
		if arg != "" && want == "notify" {
			fixCmd = append([]string{h.cmd[0], want, arg}, flagsOf(h.cmd)...)
		}
		fix := h.keyword + ` "` + strings.Join(fixCmd, " ") + `"`
		switch {
		case !okSub:
			bad++
			r.fail(name, fix, "%s: %s runs do-fip %s, but %s needs do-fip %s", s.Where(), s.Source(), orNone(got), h.keyword, strings.ReplaceAll(sub, "|", " or "))
		case got == "notify" && h.keyword != "notify" && !hasArg(h.cmd, arg):
			bad++
			r.fail(name, fix, "%s: %s: keepalived appends nothing to %s, so do-fip notify needs the state (%s) on the line", s.Where(), s.Source(), h.keyword, arg)
		}
	}
	if bad == 0 && len(hooks) > 0 {
		r.ok(name, "%d do-fip lines, each quoted as one command and running the command its hook needs", len(hooks))
	}
}

func orNone(s string) string {
	if s == "" {
		return "with no command"
	}
	return s
}

func hasArg(cmd []string, arg string) bool {
	for _, w := range cmd[2:] {
		if w == arg {
			return true
		}
	}
	return false
}

// flagsOf returns the --flags (with their values) of a do-fip command line.
func flagsOf(cmd []string) []string {
	var out []string
	for i := 1; i < len(cmd); i++ {
		if strings.HasPrefix(cmd[i], "--") {
			out = append(out, cmd[i])
			if !strings.Contains(cmd[i], "=") && cmd[i] != "--now" && i+1 < len(cmd) && !strings.HasPrefix(cmd[i+1], "--") {
				i++
				out = append(out, cmd[i])
			}
		}
	}
	return out
}

// checkWiring: per instance, one of the documented wirings; and lines the installed keepalived cannot run.
func (r *Report) checkWiring(m *model, ver *Version) {
	ins := m.doFipInstances()
	if len(ins) == 0 {
		fix := `notify "/usr/bin/do-fip notify"`
		if ver != nil && ver.Less(v206) {
			fix = `notify_master "/usr/bin/do-fip notify MASTER" (and notify_backup, notify_fault with BACKUP, FAULT)`
		}
		r.fail("wiring", fix+" in each vrrp_instance", "no vrrp_instance runs do-fip: keepalived will never move the reserved IP")
		return
	}
	for _, in := range ins {
		name := "wiring " + in.name
		var generic, master *hook
		for _, h := range in.hooks {
			switch h.keyword {
			case "notify":
				generic = h
			case "notify_master":
				master = h
			}
		}
		old := ver != nil && ver.Less(v206)
		switch {
		case generic != nil && master != nil:
			drop := master // the generic notify is the wiring that stops stale moves
			if old {
				drop = generic // which this keepalived cannot run with arguments
			}
			r.fail(name, "delete "+drop.stmt.Where()+" ("+drop.stmt.Source()+")",
				"both %s (%s) and %s (%s) run do-fip: keepalived starts both at the same moment and the two runs race for the IP",
				generic.keyword, generic.stmt.Where(), master.keyword, master.stmt.Where())
		case generic != nil && old:
			r.fail(name, `notify_master "/usr/bin/do-fip notify MASTER", notify_backup "/usr/bin/do-fip notify BACKUP", notify_fault "/usr/bin/do-fip notify FAULT" instead of `+generic.stmt.Source(),
				"%s: keepalived %s opens the whole notify value as one file name and drops the hook (arguments on the generic notify need keepalived 2.0.6 or later)", generic.stmt.Where(), ver)
		case generic != nil:
			r.ok(name, "the generic notify runs do-fip %s (%s)", strings.Join(generic.cmd[1:], " "), generic.stmt.Where())
		case master != nil:
			r.ok(name, "notify_master alone runs do-fip %s (%s)", strings.Join(master.cmd[1:], " "), master.stmt.Where())
		default:
			r.fail(name, `notify "/usr/bin/do-fip notify"`, "do-fip runs only on %s here: nothing moves the IP when %s becomes MASTER", in.hooks[0].keyword, in.name)
		}
	}
}

// checkSplitBrain: notify_master_rx_lower_pri where keepalived has it, and a tracked periodic reconcile with
// weight 0 and a timeout above do-fip's own.
func (r *Report) checkSplitBrain(m *model, ver *Version, doFipTimeout time.Duration) {
	for _, in := range m.doFipInstances() {
		name := "split brain " + in.name
		ipFlags := ""
		for _, h := range in.hooks {
			for _, ip := range h.ips() {
				ipFlags += " --ip " + ip
			}
			if ipFlags != "" {
				break
			}
		}
		var rx *hook
		for _, h := range in.hooks {
			if h.keyword == "notify_master_rx_lower_pri" {
				rx = h
			}
		}
		old := ver != nil && ver.Less(v206)
		switch {
		case rx != nil && old:
			r.warn(name, "delete "+rx.stmt.Where()+": on this keepalived the periodic reconcile check is the repair",
				"%s: keepalived %s does not know notify_master_rx_lower_pri (it needs 2.0.6 or later) and ignores the line", rx.stmt.Where(), ver)
		case rx == nil && !old:
			r.warn(name, `notify_master_rx_lower_pri "/usr/bin/do-fip reconcile --now`+ipFlags+`" in vrrp_instance `+in.name,
				"no notify_master_rx_lower_pri: after a split brain heals the IP may stay on the BACKUP until the periodic check runs")
		}
		scripts := m.reconcileScripts(in)
		if len(scripts) == 0 {
			var untracked []string
			for _, n := range m.scriptOrder {
				if vs := m.scripts[n]; vs.hook != nil && vs.hook.sub() == "reconcile" {
					untracked = append(untracked, n)
				}
			}
			if len(untracked) > 0 {
				r.warn(name, "track_script { "+untracked[0]+" } in vrrp_instance "+in.name,
					"%s does not track %s: keepalived never runs a vrrp_script no instance tracks", in.name, strings.Join(untracked, ", "))
			} else {
				r.warn(name, `vrrp_script chk_do_fip { script "/usr/bin/do-fip reconcile --timeout 20s`+ipFlags+`" interval 15 timeout 25 weight 0 } (one keyword a line) and track_script { chk_do_fip } in vrrp_instance `+in.name,
					"no periodic do-fip reconcile check: a healed split brain that no hook sees leaves the IP on the wrong node")
			}
			continue
		}
		good := true
		for _, vs := range scripts {
			weight := vs.weight
			if w := in.tracked[vs.name].Arg(2); in.tracked[vs.name].Arg(1) == "weight" {
				weight, _ = strconv.Atoi(w)
			}
			if weight != 0 {
				good = false
				r.warn(name, "weight 0 in vrrp_script "+vs.name+" (and no weight on its track_script line)",
					"%s has weight %d: reconcile always exits 0, so its weight only shifts priorities; weight 0 keeps them as configured", vs.name, weight)
			}
			own := doFipTimeout
			if v, ok := vs.hook.flag("timeout"); ok {
				if d, err := time.ParseDuration(v); err == nil {
					own = d
				}
			}
			if vs.timeout <= own {
				good = false
				fix := fmt.Sprintf("timeout %d in vrrp_script %s", int((own + 5*time.Second).Seconds()), vs.name)
				if vs.timeout > 5*time.Second {
					fix = fmt.Sprintf(`script "%s" in vrrp_script %s`, strings.Join(withFlag(vs.hook.cmd, "timeout", (vs.timeout-5*time.Second).String()), " "), vs.name)
				}
				r.fail(name, fix, "%s: keepalived stops the check after %s (its timeout, else its interval) and counts that as a failure, which with weight 0 puts %s in FAULT; do-fip's own deadline there is %s",
					vs.stmt.Where(), vs.timeout, in.name, own)
			}
		}
		if good {
			vs := scripts[0]
			what := "periodic check " + vs.name
			if rx != nil && !old {
				what = "notify_master_rx_lower_pri and " + what
			}
			r.ok(name, "%s (every %s, timeout %s, weight 0)", what, vs.interval, vs.timeout)
		}
	}
}

// withFlag returns cmd with --name set to value.
func withFlag(cmd []string, name, value string) []string {
	out := []string{}
	for i := 0; i < len(cmd); i++ {
		if cmd[i] == "--"+name && i+1 < len(cmd) {
			i++
			continue
		}
		if strings.HasPrefix(cmd[i], "--"+name+"=") {
			continue
		}
		out = append(out, cmd[i])
	}
	return append(out[:min(2, len(out))], append([]string{"--" + name, value}, out[min(2, len(out)):]...)...)
}

// checkUnicast: DigitalOcean has no multicast between droplets.
func (r *Report) checkUnicast(m *model) {
	for _, in := range m.doFipInstances() {
		name := "unicast " + in.name
		if len(in.peers) == 0 {
			r.fail(name, "unicast_src_ip THIS_VPC_IP and unicast_peer { PEER_VPC_IP } in vrrp_instance "+in.name,
				"%s: no unicast_peer: DigitalOcean has no multicast, so the nodes never hear each other and each one becomes MASTER", in.stmt.Where())
			continue
		}
		r.ok(name, "unicast peers %s", strings.Join(in.peers, ", "))
	}
}

// checkInstanceIPs: with several do-fip instances, each names its own IPs with --ip on every line.
func (r *Report) checkInstanceIPs(m *model) {
	ins := m.doFipInstances()
	if len(ins) < 2 {
		return
	}
	const name = "several instances"
	owner := map[string]string{}
	bad := false
	var summary []string
	for _, in := range ins {
		lines := append([]*hook{}, in.hooks...)
		for _, vs := range m.reconcileScripts(in) {
			lines = append(lines, vs.hook)
		}
		var mine []string
		for _, h := range lines {
			ips := h.ips()
			if len(ips) == 0 {
				bad = true
				r.fail(name, quotedLine(&hook{keyword: h.keyword, cmd: append(append([]string{}, h.cmd...), "--ip", "THIS_INSTANCE_IP"), user: h.user, group: h.group}),
					"%s: %s (in %s) names no IP: with %d instances running do-fip, each would move every configured IP", h.stmt.Where(), h.stmt.Source(), in.name, len(ins))
				continue
			}
			for _, ip := range ips {
				if o, ok := owner[ip]; ok && o != in.name {
					bad = true
					r.fail(name, "give "+in.name+" and "+o+" different IPs",
						"%s: %s names %s, which %s manages too: the two instances would take it from each other", h.stmt.Where(), in.name, ip, o)
				}
				owner[ip] = in.name
				if !contains(mine, ip) {
					mine = append(mine, ip)
				}
			}
		}
		summary = append(summary, in.name+" "+strings.Join(mine, ","))
	}
	if !bad {
		r.ok(name, "%d instances, each names its IP with --ip (%s)", len(ins), strings.Join(summary, "; "))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// hookIPs are the IPs named with --ip on do-fip lines.
func (m *model) hookIPs() []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, h := range m.hooks() {
		for _, s := range h.ips() {
			if ip, err := netip.ParseAddr(s); err == nil && !seen[ip] {
				seen[ip] = true
				out = append(out, ip)
			}
		}
	}
	return out
}
