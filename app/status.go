package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/do-fip/do-fip/engine"
	"github.com/do-fip/do-fip/metadata"
	"github.com/do-fip/do-fip/state"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show who holds each reserved IP, what this node thinks, and what happened last",
		Description: "Asks the metadata service about this droplet and the API about each reserved IP\n" +
			"(configured ones, else the ones the metadata service shows here), and reads the record of the\n" +
			"last assign from the state dir. Read-only: it never moves anything. --history shows the last\n" +
			"50 transitions and moves recorded on this node instead, without asking anything.",
		Flags: append(commonFlags(), dropletIDFlag(),
			&cli.BoolFlag{Name: "json", Usage: "print JSON instead of a table"},
			&cli.BoolFlag{Name: "history", Usage: "show the last transitions and moves on this node, oldest first (from the state dir only)"}),
		Action: runStatus,
	}
}

// Status is the JSON form of `do-fip status --json`. Field names are a stable interface for monitoring.
type Status struct {
	Time          time.Time           `json:"time"`
	DropletID     int                 `json:"droplet_id"`
	Hostname      string              `json:"hostname,omitempty"`
	Region        string              `json:"region,omitempty"`
	AnchorIPv4    string              `json:"anchor_ipv4,omitempty"`
	MetadataError string              `json:"metadata_error,omitempty"`
	APIError      string              `json:"api_error,omitempty"`
	IPs           []IPStatus          `json:"ips"`
	LastAssign    *state.AssignRecord `json:"last_assign"`
	RateLimit     *RateStatus         `json:"rate_limit,omitempty"`
}

// IPStatus is one reserved IP as the API and the metadata service see it.
type IPStatus struct {
	IP              string `json:"ip"`
	HolderDropletID int    `json:"holder_droplet_id"`
	HolderName      string `json:"holder_name,omitempty"`
	Region          string `json:"region,omitempty"`
	Locked          bool   `json:"locked"`
	HeldHere        bool   `json:"held_here"`
	MetadataHere    bool   `json:"metadata_held_here"`
	// KeepalivedState is the state the last keepalived notify recorded on this node for the IP.
	KeepalivedState string            `json:"keepalived_state,omitempty"`
	LastTransition  *state.Transition `json:"last_transition,omitempty"`
	Error           string            `json:"error,omitempty"`
	err             error             // Error with its class, for the exit code and the hint
}

// RateStatus is the API rate limit as of the last answer.
type RateStatus struct {
	Limit     int       `json:"limit"`
	Remaining int       `json:"remaining"`
	Reset     time.Time `json:"reset"`
}

func runStatus(c *cli.Context) error {
	ips, _, err := assignArgs(c.Args().Slice())
	if err != nil {
		return err
	}
	e, err := setup(c, "status")
	if err != nil {
		return err
	}
	defer e.close()
	if c.Bool("history") {
		return e.showHistory(c)
	}
	ctx, cancel := e.deadline(c.Context)
	defer cancel()
	if len(ips) == 0 {
		ips = e.cfg.IPs
	}
	st, md := e.localStatus(ctx, ips)
	apiErr := e.apiStatus(ctx, c.App.Version, st)

	if c.Bool("json") {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return err
		}
	} else {
		printStatus(e.stdout, st)
	}
	// The report is printed either way; the exit code still tells a script whether it is complete.
	if apiErr == nil {
		apiErr = worstIPError(st.IPs)
	}
	if apiErr != nil {
		return apiErr
	}
	if md == nil && st.DropletID == 0 {
		// The report's first line says what the metadata service answered.
		return &exitError{code: ExitMetadata, err: metadata.ErrUnavailable, shown: true}
	}
	return nil
}

// localStatus is what this node knows without the API: the metadata service (which also names the IPs held
// here when none are configured), the last assign and keepalived's recorded state per IP.
func (e *env) localStatus(ctx context.Context, ips []netip.Addr) (*Status, *metadata.Metadata) {
	st := &Status{Time: time.Now().UTC(), DropletID: e.cfg.DropletID, IPs: []IPStatus{}}
	md, err := e.metadataClient().Get(ctx)
	if err != nil {
		st.MetadataError, md = oneLine(err.Error()), nil
	} else {
		st.Hostname, st.Region, st.AnchorIPv4 = md.Hostname, md.Region, md.AnchorIPv4
		if st.DropletID == 0 {
			st.DropletID = md.DropletID
		}
		if len(ips) == 0 {
			ips = metadataIPs(md)
		}
	}
	dir := state.OpenReadOnly(e.cfg.StateDir)
	if rec, err := dir.LastAssign(); err == nil {
		st.LastAssign = rec
	} else {
		e.log.Warn().Err(err).Msg("could not read the last assign record")
	}
	st.IPs = make([]IPStatus, len(ips))
	for i, ip := range ips {
		s := &st.IPs[i]
		s.IP = ip.String()
		if ks, err := dir.IPState(ip); err == nil && ks != nil {
			s.KeepalivedState, s.LastTransition = ks.Current.State, &ks.Current
		}
		if md != nil && md.DropletID == st.DropletID {
			s.MetadataHere = heldIn(md, ip)
		}
	}
	return st, md
}

// apiStatus reads every IP from the API in parallel into st. It returns an error that concerns them all (no
// token, a bad API URL); an IP's own error stays with the IP.
func (e *env) apiStatus(ctx context.Context, version string, st *Status) error {
	api, err := e.apiClient(version)
	if err != nil {
		st.APIError = oneLine(err.Error())
		return err
	}
	var wg sync.WaitGroup
	for i := range st.IPs {
		s := &st.IPs[i]
		ip := netip.MustParseAddr(s.IP)
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, err := api.GetIP(ctx, ip)
			if err != nil {
				s.Error, s.err = oneLine(err.Error()), err
				return
			}
			s.HolderDropletID, s.HolderName, s.Region, s.Locked = info.DropletID, info.DropletName, info.Region, info.Locked
			s.HeldHere = st.DropletID != 0 && info.DropletID == st.DropletID
		}()
	}
	wg.Wait()
	if r := api.Rate(); len(st.IPs) > 0 && r.Limit > 0 {
		st.RateLimit = &RateStatus{Limit: r.Limit, Remaining: r.Remaining, Reset: r.Reset.UTC()}
	}
	for _, s := range st.IPs {
		if s.Error != "" {
			st.APIError = s.Error
			break
		}
	}
	return nil
}

func metadataIPs(m *metadata.Metadata) []netip.Addr {
	var out []netip.Addr
	for _, r := range []metadata.ReservedIP{m.ReservedIPv4, m.ReservedIPv6} {
		if ip, err := netip.ParseAddr(r.IP); r.Active && err == nil {
			out = append(out, ip)
		}
	}
	return out
}

// heldIn says whether the droplet the metadata describes holds ip.
func heldIn(m *metadata.Metadata, ip netip.Addr) bool {
	return engine.SeenIn(m, m.DropletID, ip) == engine.Here
}

// worstIPError is the per-IP error status exits with: the one whose cause a person must fix first (the token,
// then a refusal, then anything else), so that the exit code is the documented one for that cause.
func worstIPError(ips []IPStatus) error {
	rank := func(err error) int {
		switch exitCode(err) {
		case ExitAuth:
			return 0
		case ExitRefused:
			return 1
		case ExitTimeout:
			return 2
		}
		return 3
	}
	var worst error
	for _, s := range ips {
		if s.err != nil && (worst == nil || rank(s.err) < rank(worst)) {
			worst = s.err
		}
	}
	return worst
}

func printStatus(w io.Writer, st *Status) {
	if st.MetadataError != "" {
		fmt.Fprintf(w, "this droplet: %d (metadata service: %s)\n", st.DropletID, st.MetadataError)
	} else {
		fmt.Fprintf(w, "this droplet: %d %s, region %s, anchor IP %s\n", st.DropletID, st.Hostname, st.Region, orDash(st.AnchorIPv4))
	}
	if len(st.IPs) == 0 {
		fmt.Fprintln(w, "reserved IPs: none configured and none held here (set DO_FIP_IPS or 'ips' in the config)")
	} else {
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RESERVED IP\tHOLDER (API)\tHELD HERE\tMETADATA\tLOCKED\tKEEPALIVED HERE")
		for _, s := range st.IPs {
			holder := "none"
			switch {
			case s.Error != "":
				holder = "unknown"
			case s.HolderDropletID != 0:
				holder = fmt.Sprintf("%d %s", s.HolderDropletID, s.HolderName)
			}
			ka := "unknown"
			if t := s.LastTransition; t != nil {
				ka = fmt.Sprintf("%s since %s", t.State, t.Time.Format("15:04:05"))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.IP, holder, yesNo(s.HeldHere && s.Error == ""), map[bool]string{true: "here", false: "-"}[s.MetadataHere], yesNo(s.Locked), ka)
		}
		tw.Flush()
		for _, s := range st.IPs {
			if s.Error != "" {
				fmt.Fprintf(w, "  %s: %s\n", s.IP, s.Error)
			}
		}
	}
	if st.APIError != "" && len(st.IPs) == 0 {
		fmt.Fprintf(w, "API: %s\n", st.APIError)
	}
	if r := st.LastAssign; r == nil {
		fmt.Fprintln(w, "last assign: none recorded on this node")
	} else {
		fmt.Fprintf(w, "last assign: %s (%s ago) by %s: %s, exit %d, %d ms, %d API requests\n",
			r.Time.Format(time.RFC3339), time.Since(r.Time).Round(time.Second), r.Trigger, r.Result, r.ExitCode, r.DurationMS, r.Requests)
		for _, ip := range r.IPs {
			line := fmt.Sprintf("  %s %s in %d ms", ip.IP, ip.Result, ip.DurationMS)
			if ip.ActionID != 0 {
				line += fmt.Sprintf(" (action %d)", ip.ActionID)
			}
			if ip.Error != "" {
				line += ": " + ip.Error
			}
			fmt.Fprintln(w, line)
		}
	}
	if r := st.RateLimit; r != nil {
		fmt.Fprintf(w, "API rate limit: %d of %d left, window resets %s\n", r.Remaining, r.Limit, r.Reset.Format(time.RFC3339))
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
