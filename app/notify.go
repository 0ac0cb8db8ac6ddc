package app

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/do-fip/do-fip/notify"
	"github.com/do-fip/do-fip/state"
)

func notifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "notify",
		Usage:     "keepalived's generic notify hook: MASTER moves the IPs here, other states stop any move in flight",
		ArgsUsage: "INSTANCE|GROUP NAME STATE PRIORITY | STATE",
		Description: "For keepalived's generic hook, which appends four words:\n" +
			"   notify \"/usr/bin/do-fip notify\"\n" +
			"or, per state (keepalived before 2.0.6, which cannot pass arguments to the generic hook):\n" +
			"   notify_master \"/usr/bin/do-fip notify MASTER\", notify_backup \"... BACKUP\", notify_fault \"... FAULT\".\n" +
			"MASTER: move the IPs here (as assign). BACKUP, FAULT, STOP: record the state, so that an assign\n" +
			"this node still has in flight for the same IPs stops before it can take the IP from the new MASTER.\n" +
			"It never unassigns. Runs are ordered by when keepalived started them, so a late hook of an older\n" +
			"transition never overrides a newer one. Several VRRP instances: give each its IPs with --ip.",
		Flags:  append(commonFlags(), dropletIDFlag(), ipFlag()),
		Action: runNotify,
	}
}

func runNotify(c *cli.Context) error {
	// First thing: a hook whose keepalived dies is reparented, and its keepalived can no longer be found.
	ka, _ := state.SelfKeepalived()
	ev, err := notify.ParseKeepalivedArgs(c.Args().Slice())
	if err != nil {
		return &exitError{code: ExitUsage, err: err, hint: "in keepalived.conf: notify \"/usr/bin/do-fip notify\" (keepalived appends the four words)"}
	}
	ips, err := withIPFlags(c, nil)
	if err != nil {
		return err
	}
	e, ips, err := setupWithIPs(c, "notify", ips)
	if err != nil {
		return err
	}
	defer e.close()
	dir, err := e.stateDir()
	if err != nil {
		return e.fail(c.App.ErrWriter, err)
	}
	warnRunAsRoot(e, dir, ka)
	self := state.SelfEvent()
	log := e.log.With().Str("instance", ev.Name).Str("state", ev.State).Int("priority", ev.Priority).Logger()

	// Record first, for every state: this is what stops an older run that is still moving the IP here.
	var mine []netip.Addr
	for _, ip := range ips {
		t := state.Transition{Event: self, Time: time.Now().UTC(), Kind: ev.Kind, Name: ev.Name, State: ev.State, Priority: ev.Priority, Keepalived: ka}
		outcome, cur, err := dir.RecordTransition(ip, t)
		if err != nil {
			return e.fail(c.App.ErrWriter, fmt.Errorf("record %s for %s: %w", ev.State, ip, err))
		}
		switch outcome {
		case state.Older:
			log.Warn().Str("event", "stale_transition").Str("ip", ip.String()).Str("newer_state", cur.State).Int("newer_pid", cur.Event.PID).
				Msg("keepalived started a newer hook for this IP already; this older event is ignored")
			continue
		case state.Orphaned:
			log.Warn().Str("event", "orphaned_transition").Str("ip", ip.String()).Int("keepalived_pid", ka.PID).
				Msg("the keepalived that started this hook is no longer running; this event is ignored")
			continue
		}
		mine = append(mine, ip)
	}
	log.Info().Str("event", "transition").Str("ips", joinIPs(mine)).Int("keepalived_pid", ka.PID).Msg("keepalived state change recorded")
	if notify.Decide(ev.State) != notify.Take || len(mine) == 0 {
		return nil
	}
	ctx, cancel := e.deadline(c.Context)
	defer cancel()
	m, err := e.newMover(ctx, c.App.Version, 0)
	if err != nil {
		return e.fail(c.App.ErrWriter, err)
	}
	m.self = self
	return m.move(ctx, c, mine, "notify "+ev.State)
}

func reconcileCommand() *cli.Command {
	return &cli.Command{
		Name:  "reconcile",
		Usage: "if keepalived last made this node MASTER and the IP is elsewhere, move it back here",
		Description: "Repairs what a one-shot hook cannot see: after a split brain heals, the node that stayed\n" +
			"MASTER gets no new notify and the IP may sit on the node that went back to BACKUP. Wire it to\n" +
			"   notify_master_rx_lower_pri \"/usr/bin/do-fip reconcile\"\n" +
			"(run when a MASTER hears a lower-priority MASTER: the moment a split brain heals) and, as a safety\n" +
			"net, to a vrrp_script with weight 0 and a long interval. It acts only when the last keepalived\n" +
			"transition recorded by 'do-fip notify' on this node is MASTER and was recorded by the keepalived\n" +
			"running now (a restarted keepalived runs its checks before its first notify, while the record still\n" +
			"says what the previous one did), so it never moves the IP to a node that is not MASTER.\n" +
			"Cheap: the metadata service first, the API only when the IP is not here.\n" +
			"It exits 0 whatever the API says (problems go to the log), so a vrrp_script never puts the node\n" +
			"in FAULT because of the API; only bad arguments exit non-zero.\n" +
			"While a partition lasts, both nodes can be MASTER and reach the API; each would take the IP back\n" +
			"from the other at every check. The first two moves of a MASTER period are immediate, then each\n" +
			"further move waits twice as long (1 min up to 10 min). --now skips the wait: use it for\n" +
			"notify_master_rx_lower_pri, where keepalived has just settled who is MASTER.",
		Flags: append(commonFlags(), dropletIDFlag(), ipFlag(),
			&cli.BoolFlag{Name: "now", Usage: "skip the split-brain damping: keepalived has just confirmed this node is MASTER (notify_master_rx_lower_pri)"}),
		Action: runReconcile,
	}
}

func runReconcile(c *cli.Context) error {
	ka, _ := state.SelfKeepalived()
	if c.Args().Len() > 0 {
		return usageErr("reconcile takes no arguments (use --ip): got %q", c.Args().First())
	}
	ips, err := withIPFlags(c, nil)
	if err != nil {
		return err
	}
	e, ips, err := setupWithIPs(c, "reconcile", ips)
	if err != nil {
		return err
	}
	defer e.close()
	if err := reconcile(c, e, ips, ka); err != nil {
		// Logged (and printed) but not an exit status: see the command's description.
		_ = e.fail(c.App.ErrWriter, err)
	}
	return nil
}

func reconcile(c *cli.Context, e *env, ips []netip.Addr, ka state.Keepalived) error {
	dir, err := e.stateDir()
	if err != nil {
		return err
	}
	warnRunAsRoot(e, dir, ka)
	base := map[netip.Addr]state.Event{}
	moves := map[netip.Addr][]time.Time{}
	var master []netip.Addr
	untrusted := map[untrustedCause][]netip.Addr{}
	for _, ip := range ips {
		st, err := dir.IPState(ip)
		var cause untrustedCause
		if err == nil && st != nil {
			cause = untrustedCause{trust: state.TrustRecord(st.Current, ka, state.KeepalivedRunning), recordedBy: st.Current.Keepalived}
		}
		switch {
		case err != nil:
			e.log.Warn().Err(err).Str("ip", ip.String()).Msg("cannot read the recorded keepalived state; not touching this IP")
		case st == nil:
			untrusted[untrustedCause{trust: noRecord}] = append(untrusted[untrustedCause{trust: noRecord}], ip)
		case cause.trust != state.Trusted:
			untrusted[cause] = append(untrusted[cause], ip)
		case st.Current.State != "MASTER":
			e.log.Debug().Str("event", "reconcile_not_master").Str("ip", ip.String()).Str("state", st.Current.State).Msg("not MASTER; nothing to do")
		default:
			master = append(master, ip)
			base[ip] = st.Current.Event
			moves[ip] = st.ReconcileMovesUnder(st.Current.Event)
		}
	}
	for cause, ips := range untrusted {
		logUntrusted(e, dir, ka, cause, ips)
	}
	if len(master) == 0 {
		return nil
	}
	ctx, cancel := e.deadline(c.Context)
	defer cancel()

	// The metadata service is free and local: if it shows every IP here, no API request is needed.
	md, merr := e.metadataClient().Get(ctx)
	var need []netip.Addr
	for _, ip := range master {
		if merr == nil && (e.cfg.DropletID == 0 || e.cfg.DropletID == md.DropletID) && heldIn(md, ip) {
			continue
		}
		need = append(need, ip)
	}
	if len(need) == 0 {
		e.log.Debug().Str("event", "reconcile_ok").Msg("MASTER and the metadata service shows every IP here")
		return nil
	}
	// Another do-fip run on this node is already moving the IP: leave it to that run.
	var free []netip.Addr
	for _, ip := range need {
		l, ok, err := dir.TryLockIP(ip)
		if err != nil {
			return err
		}
		if !ok {
			e.log.Info().Str("event", "reconcile_busy").Str("ip", ip.String()).Msg("another do-fip run is moving this IP; leaving it to that run")
			continue
		}
		l.Unlock()
		free = append(free, ip)
	}
	if len(free) == 0 {
		return nil
	}
	m, err := e.newMover(ctx, c.App.Version, 0)
	if err != nil {
		return err
	}
	// Acting on the recorded MASTER transition: any transition recorded after it stops the move, even one
	// keepalived started before this run.
	m.base = base
	var move []netip.Addr
	for _, ip := range free {
		info, err := m.api.GetIP(ctx, ip)
		if err != nil {
			return fmt.Errorf("reconcile %s: %w", ip, err)
		}
		switch {
		case info.DropletID == m.a.DropletID:
			e.log.Debug().Str("event", "reconcile_ok").Str("ip", ip.String()).Msg("the API shows the IP here")
		case info.Locked:
			e.log.Info().Str("event", "reconcile_pending").Str("ip", ip.String()).Int("holder", info.DropletID).
				Msg("a move of this IP is pending; checking again next time")
		default:
			if wait := notify.ReconcileWait(moves[ip], time.Now()); wait > 0 && !c.Bool("now") {
				e.log.Warn().Str("event", "reconcile_damped").Str("ip", ip.String()).Int("holder", info.DropletID).
					Int("moves", len(moves[ip])).Int64("wait_ms", wait.Milliseconds()).
					Msg("the IP went back to another droplet after this node moved it: both nodes MASTER (a partition) and both reach the API? not moving it again yet")
				continue
			}
			e.log.Warn().Str("event", "reconcile_move").Str("ip", ip.String()).Int("holder", info.DropletID).
				Msg("this node is MASTER but the IP is elsewhere (split brain healed?): moving it back")
			if err := dir.NoteReconcileMove(ip, base[ip], time.Now()); err != nil {
				e.log.Warn().Err(err).Msg("could not record the move")
			}
			move = append(move, ip)
		}
	}
	if len(move) == 0 {
		return nil
	}
	err = m.move(ctx, c, move, "reconcile")
	if errors.Is(err, errReported) {
		return nil
	}
	return err
}

// noRecord is the cause "nothing recorded for the IP", next to state.TrustRecord's verdicts.
const noRecord state.Trust = -1

// untrustedCause is why reconcile does not act on an IP's record.
type untrustedCause struct {
	trust      state.Trust
	recordedBy state.Keepalived
}

// notifyWiringHint is the fix when keepalived runs reconcile but no do-fip notify.
const notifyWiringHint = "keepalived 2.0.6 and later: notify \"/usr/bin/do-fip notify\"; " +
	"earlier (1.3.x): notify_master \"/usr/bin/do-fip notify MASTER\", notify_backup \"/usr/bin/do-fip notify BACKUP\", " +
	"notify_fault \"/usr/bin/do-fip notify FAULT\" (1.3.x opens a generic notify with arguments as one file name: " +
	"its log says \"Disabling notify script\")"

// logUntrusted says once per cause, at the default level, why reconcile leaves ips alone. Under keepalived
// the first sighting may be normal (keepalived 2.x runs every tracked check once before its first notify), so
// it is info; if the next check still finds no notify of this keepalived, the hook is not wired: a warning
// with the fix, once per keepalived run. Later repeats go to debug. Run by hand, it always warns.
func logUntrusted(e *env, dir *state.Dir, ka state.Keepalived, cause untrustedCause, ips []netip.Addr) {
	seen := 1
	if !ka.IsZero() {
		seen = dir.Noticed(fmt.Sprintf("reconcile_untrusted_%d", cause.trust), fmt.Sprintf("%s %d %s", ka, ka.Start, cause.recordedBy))
	}
	lvl := zerolog.DebugLevel
	switch seen {
	case 0:
		lvl = zerolog.InfoLevel
	case 1:
		lvl = zerolog.WarnLevel
	}
	ev := e.log.WithLevel(lvl).Str("ip", joinIPs(ips)).Int("keepalived_pid", ka.PID).Int("recorded_by_pid", cause.recordedBy.PID)
	waiting := seen == 0
	switch cause.trust {
	case noRecord:
		if waiting {
			ev.Str("event", "reconcile_unknown").Msg("no keepalived transition recorded for this IP yet; not touching it until keepalived runs do-fip notify")
			return
		}
		ev.Str("event", "reconcile_unknown").Str("hint", notifyWiringHint).
			Msg("no keepalived transition recorded for this IP: keepalived does not run do-fip notify; not touching it")
	case state.OtherKeepalived, state.NoKeepalived:
		what := "an earlier keepalived"
		if cause.trust == state.NoKeepalived {
			what = "no keepalived (by hand, or by an older do-fip)"
		}
		if waiting {
			ev.Str("event", "reconcile_stale_record").
				Msg("the recorded state was made by " + what + ", not by the keepalived running now; not touching the IP until it runs do-fip notify")
			return
		}
		ev.Str("event", "reconcile_stale_record").Str("hint", notifyWiringHint).
			Msg("the keepalived running now has not run do-fip notify since it started; the recorded state was made by " + what + "; not touching the IP")
	case state.KeepalivedGone:
		ev.Str("event", "reconcile_stale_record").
			Msg("the keepalived that recorded this state is no longer running; not touching the IP")
	}
}

// warnRunAsRoot says once per keepalived run when keepalived runs do-fip as root: keepalived 1.3.4-1.3.5 cannot
// resolve the default keepalived_script user and fall back to root unless script_user is set. A root run leaves
// root-owned files in the state dir that later runs as keepalived_script cannot open.
func warnRunAsRoot(e *env, dir *state.Dir, ka state.Keepalived) {
	if ka.IsZero() || os.Geteuid() != 0 || dir.Noticed("run_as_root", fmt.Sprintf("%s %d", ka, ka.Start)) > 0 {
		return
	}
	e.log.Warn().Str("event", "run_as_root").Int("keepalived_pid", ka.PID).
		Str("hint", "in global_defs: script_user keepalived_script (keepalived 1.3.4-1.3.5 need it: they cannot resolve that default user)").
		Msg("keepalived runs do-fip as root; files a root run leaves in the state dir may be unusable for runs as keepalived_script")
}
