package app

import (
	"fmt"
	"net/netip"
	"os"
	"time"

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
		return err
	}
	warnRunAsRoot(e, dir, ka)
	self := e.self()
	log := e.log.With().Str("instance", ev.Name).Str("state", ev.State).Int("priority", ev.Priority).Logger()

	// Record first, for every state: this is what stops an older run that is still moving the IP here.
	var mine []netip.Addr
	for _, ip := range ips {
		t := state.Transition{Event: self, Time: time.Now().UTC(), Kind: ev.Kind, Name: ev.Name, State: ev.State, Priority: ev.Priority, Keepalived: ka}
		outcome, cur, err := dir.RecordTransition(ip, t)
		if err != nil {
			return fmt.Errorf("record %s for %s: %w", ev.State, ip, err)
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
		return err
	}
	m.self = self
	return m.move(ctx, c, mine, "notify "+ev.State)
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
