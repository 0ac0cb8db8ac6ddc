package app

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/do-fip/do-fip/notify"
	"github.com/do-fip/do-fip/state"
)

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
		e.report(c.App.ErrWriter, err)
	}
	return nil
}

func reconcile(c *cli.Context, e *env, ips []netip.Addr, ka state.Keepalived) error {
	dir, err := e.stateDir()
	if err != nil {
		return err
	}
	warnRunAsRoot(e, dir, ka)
	r := &reconciler{e: e, views: map[netip.Addr]*notify.ReconcileView{}, base: map[netip.Addr]state.ProcStart{}}
	r.load(dir, ips, ka, c.Bool("now"))
	if len(r.next(notify.AskMetadata)) == 0 {
		return nil
	}
	ctx, cancel := e.deadline(c.Context)
	defer cancel()

	// The metadata service is free and local: if it shows the IP here, no API request is needed.
	md, merr := e.metadataClient().Get(ctx)
	for _, ip := range r.next(notify.AskMetadata) {
		v := r.views[ip]
		v.MetadataAsked = true
		v.MetadataHere = merr == nil && (e.cfg.DropletID == 0 || e.cfg.DropletID == md.DropletID) && heldIn(md, ip)
	}
	// Another do-fip run on this node already moving the IP is left to it.
	for _, ip := range r.next(notify.AskLock) {
		l, ok, err := dir.TryLockIP(ip)
		if err != nil {
			return err
		}
		if ok {
			l.Unlock()
		}
		r.views[ip].LockAsked, r.views[ip].Busy = true, !ok
	}
	ask := r.next(notify.AskAPI)
	if len(ask) == 0 {
		return nil
	}
	m, err := e.newMover(ctx, c.App.Version, 0)
	if err != nil {
		return err
	}
	for _, ip := range ask {
		info, err := m.api.GetIP(ctx, ip)
		if err != nil {
			return fmt.Errorf("reconcile %s: %w", ip, err)
		}
		v := r.views[ip]
		v.APIAsked, v.HeldHere, v.Pending = true, info.DropletID == m.a.DropletID, info.Locked
	}
	move := r.next(notify.Move)
	for _, ip := range move {
		if err := dir.NoteReconcileMove(ip, r.base[ip], time.Now()); err != nil {
			e.log.Warn().Err(err).Msg("could not record the move")
		}
	}
	if len(move) == 0 {
		return nil
	}
	// Acting on the recorded MASTER transition: any transition recorded after it stops the move, even one
	// keepalived started before this run.
	m.base = r.base
	return m.move(ctx, c, move, "reconcile")
}

// reconciler carries reconcile's view of each IP from one step to the next.
type reconciler struct {
	e     *env
	views map[netip.Addr]*notify.ReconcileView
	order []netip.Addr
	base  map[netip.Addr]state.ProcStart
}

// load reads each IP's recorded transition and judges whether it is the running keepalived's; it says once
// per cause why it leaves IPs alone.
func (r *reconciler) load(dir *state.Dir, ips []netip.Addr, ka state.Keepalived, now bool) {
	untrusted := map[untrustedCause][]netip.Addr{}
	for _, ip := range ips {
		st, err := dir.IPState(ip)
		if err != nil {
			r.e.log.Warn().Err(err).Str("ip", ip.String()).Msg("cannot read the recorded keepalived state; not touching this IP")
			continue
		}
		v := &notify.ReconcileView{Now: time.Now(), SkipDamping: now}
		cause := untrustedCause{trust: noRecord}
		if st != nil {
			cause = untrustedCause{trust: state.TrustRecord(st.Current, ka, state.KeepalivedRunning), recordedBy: st.Current.Keepalived}
			v.Recorded, v.Trusted, v.State = true, cause.trust == state.Trusted, st.Current.State
			v.Moves = st.ReconcileMovesUnder(st.Current.Event)
			r.base[ip] = st.Current.Event
		}
		if !v.Trusted {
			untrusted[cause] = append(untrusted[cause], ip)
		}
		r.views[ip], r.order = v, append(r.order, ip)
	}
	for cause, ips := range untrusted {
		logUntrusted(r.e, dir, ka, cause, ips)
	}
}

// next returns the IPs whose verdict is step, and logs the verdicts that end the matter (once each).
func (r *reconciler) next(step notify.ReconcileStep) []netip.Addr {
	var out []netip.Addr
	for _, ip := range r.order {
		v := r.views[ip]
		if v == nil {
			continue
		}
		d := notify.Reconcile(*v)
		switch d.Step {
		case step:
			out = append(out, ip)
			if step != notify.Move {
				continue
			}
			r.e.log.Warn().Str("event", "reconcile_move").Str("ip", ip.String()).Msg(d.Why + ": moving it back")
		case notify.Leave:
			r.e.log.Debug().Str("event", "reconcile_leave").Str("ip", ip.String()).Msg(d.Why)
		case notify.Damped:
			r.e.log.Warn().Str("event", "reconcile_damped").Str("ip", ip.String()).Int("moves", len(v.Moves)).
				Int64("wait_ms", d.Wait.Milliseconds()).Msg(d.Why + " not moving it again yet")
		default:
			continue // a later step's
		}
		delete(r.views, ip)
	}
	return out
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
