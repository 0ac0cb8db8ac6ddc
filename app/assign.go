package app

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/do-fip/do-fip/config"
	"github.com/do-fip/do-fip/doapi"
	"github.com/do-fip/do-fip/engine"
	"github.com/do-fip/do-fip/logging"
	"github.com/do-fip/do-fip/state"
)

func assignCommand() *cli.Command {
	return &cli.Command{
		Name:      "assign",
		Usage:     "move the reserved IPs to this droplet and wait until the move is verified",
		ArgsUsage: "[IP ...] | IP DROPLET_ID",
		Description: "Moves each reserved IP (arguments, else DO_FIP_IPS, else 'ips' in the config file) to this\n" +
			"droplet, in parallel, and exits 0 once the API shows the droplet holding every IP. An IP that is\n" +
			"already here costs one API read and no move. The tutorial form 'assign IP DROPLET_ID' works too.\n" +
			"For keepalived: notify_master \"/usr/bin/do-fip assign\"",
		Flags: append(commonFlags(), dropletIDFlag(), ipFlag()),
		Action: func(c *cli.Context) error {
			return runAssign(c, "assign")
		},
	}
}

// assignArgs parses assign's positional arguments: IPs, or the tutorial's "IP DROPLET_ID".
func assignArgs(args []string) (ips []netip.Addr, dropletID int, err error) {
	if len(args) == 2 {
		if _, perr := netip.ParseAddr(args[1]); perr != nil && isDigits(args[1]) {
			ip, err := config.ParseIP(args[0])
			if err != nil {
				return nil, 0, usageErr("bad IP argument: %v", err)
			}
			id, err := config.ParseDropletID(args[1])
			if err != nil {
				return nil, 0, usageErr("bad droplet ID argument: %v", err)
			}
			return []netip.Addr{ip}, id, nil
		}
	}
	for _, a := range args {
		ip, err := config.ParseIP(a)
		if err == nil {
			ips, err = config.AddIP(ips, ip)
		}
		if err != nil {
			return nil, 0, usageErr("bad IP argument: %v", err)
		}
	}
	return ips, 0, nil
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func runAssign(c *cli.Context, trigger string) error {
	// Arguments are checked before anything else: bad input changes nothing and costs no request.
	ips, argDroplet, err := assignArgs(c.Args().Slice())
	if err != nil {
		return err
	}
	if ips, err = withIPFlags(c, ips); err != nil {
		return err
	}
	e, ips, err := setupWithIPs(c, "assign", ips)
	if err != nil {
		return err
	}
	defer e.close()
	ctx, cancel := e.deadline(c.Context)
	defer cancel()
	m, err := e.newMover(ctx, c.App.Version, argDroplet)
	if err != nil {
		return err
	}
	return m.move(ctx, c, ips, trigger)
}

// mover is what a command that moves IPs needs: the API, the state dir and the engine for this droplet.
type mover struct {
	e    *env
	api  *doapi.Client
	dir  *state.Dir
	a    *engine.Engine
	self state.ProcStart
	// base, per IP, is the keepalived transition this run acts on; a newer one stops it. Unset: the run's own
	// start, so only hooks keepalived started after this run stop it.
	base map[netip.Addr]state.ProcStart
}

// newMover opens the API client and the state dir and learns the droplet's ID: droplet if non-zero, else
// --droplet-id / DO_FIP_DROPLET_ID / droplet_id, else the metadata service.
func (e *env) newMover(ctx context.Context, version string, droplet int) (*mover, error) {
	api, err := e.apiClient(version)
	if err != nil {
		return nil, err
	}
	dir, err := e.stateDir()
	if err != nil {
		return nil, err
	}
	if droplet == 0 {
		droplet = e.cfg.DropletID
	}
	a := &engine.Engine{API: api, Log: e.log.Logger, DropletID: droplet, Lock: lockIP(dir),
		Timing: engine.Timing{CheckAfter: e.cfg.CheckAfter, CheckEvery: e.cfg.CheckAfter / 2}}
	mc := e.metadataClient()
	if droplet == 0 {
		asked := time.Now()
		md, err := mc.Get(ctx)
		if err != nil {
			return nil, fmt.Errorf("learn this droplet's ID: %w", err)
		}
		// The same answer says where each IP is: an IP shown elsewhere is posted at once.
		a.DropletID, a.Region, a.Initial, a.InitialAt, a.Watch = md.DropletID, md.Region, md, asked, mc
	} else {
		// The ID is known, so the first API request need not wait for the metadata service; it is asked in
		// the background only to watch the move, if it describes the target droplet.
		a.Watch = engine.WatchIfSelf(ctx, mc, droplet)
	}
	return &mover{e: e, api: api, dir: dir, a: a, self: e.self()}, nil
}

func (m *mover) baseFor(ips []netip.Addr) map[netip.Addr]state.ProcStart {
	out := make(map[netip.Addr]state.ProcStart, len(ips))
	for _, ip := range ips {
		if b, ok := m.base[ip]; ok {
			out[ip] = b
		} else {
			out[ip] = m.self
		}
	}
	return out
}

// move assigns ips, each under its lock, stops if a newer keepalived transition is recorded for them, records
// the run for status, and reports the outcome.
func (m *mover) move(parent context.Context, c *cli.Context, ips []netip.Addr, trigger string) error {
	start := time.Now()
	e := m.e
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	go func() {
		select {
		case t := <-m.dir.Superseded(ctx, m.baseFor(ips), 20*time.Millisecond):
			e.log.Warn().Str("event", "superseded").Str("state", t.State).Int("by_pid", t.Event.PID).
				Msg("a newer keepalived transition took over; stopping")
			cancel(fmt.Errorf("%w (%s, pid %d)", ErrSuperseded, t.State, t.Event.PID))
		case <-ctx.Done():
		}
	}()
	e.log.Info().Str("event", "start").Str("trigger", trigger).Int("droplet_id", m.a.DropletID).
		Str("ips", joinIPs(ips)).Str("timeout", e.cfg.Timeout.String()).Msg("assigning reserved IPs to this droplet")

	results := m.a.AssignAll(ctx, ips)
	rec := record(trigger, m.a.DropletID, start, results, m.api.Requests())
	var firstErr error
	for _, r := range results {
		switch r.Outcome {
		case engine.AlreadyHeld:
			fmt.Fprintf(e.stdout, "%s: already on droplet %d\n", r.IP, m.a.DropletID)
		case engine.Moved:
			fmt.Fprintf(e.stdout, "%s: moved to droplet %d in %d ms (action %d)\n", r.IP, m.a.DropletID, r.Duration.Milliseconds(), r.ActionID)
		default:
			if firstErr == nil {
				firstErr = r.Err
			}
		}
	}
	rec.ExitCode = exitCode(firstErr)
	if firstErr != nil {
		rec.Result, rec.Error = "error", oneLine(firstErr.Error())
	}
	if err := m.dir.WriteLastAssign(rec); err != nil {
		e.log.Warn().Err(err).Str("event", "state_write_failed").Msg("could not record this run for 'do-fip status'")
	}
	if firstErr != nil {
		return firstErr
	}
	e.log.Info().Str("event", "done").Int64("elapsed_ms", logging.Since(start)).Int64("api_requests", m.api.Requests()).Msg("every IP is on this droplet")
	return nil
}

// lockIP serializes do-fip runs on this node per IP, so two runs never fight over one IP: the second waits,
// then finds the IP already here and makes no move.
func lockIP(dir *state.Dir) func(context.Context, netip.Addr) (engine.IPLock, error) {
	return func(ctx context.Context, ip netip.Addr) (engine.IPLock, error) {
		l, err := dir.LockIP(ctx, ip)
		if err != nil {
			return nil, err
		}
		return l, nil
	}
}

func joinIPs(ips []netip.Addr) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ",")
}

func record(trigger string, droplet int, start time.Time, results []engine.Result, requests int64) state.AssignRecord {
	rec := state.AssignRecord{Time: start.UTC(), Trigger: trigger, DropletID: droplet, Result: "ok",
		DurationMS: logging.Since(start), Requests: requests}
	for _, r := range results {
		ir := state.IPResult{IP: r.IP.String(), Result: string(r.Outcome), ActionID: r.ActionID, DurationMS: r.Duration.Milliseconds()}
		if r.Err != nil {
			ir.Error = oneLine(r.Err.Error())
		}
		rec.IPs = append(rec.IPs, ir)
	}
	return rec
}
