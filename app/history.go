package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/do-fip/do-fip/engine"
	"github.com/do-fip/do-fip/state"
)

// History is the JSON form of `do-fip status --history --json`.
type History struct {
	History []state.HistoryEntry `json:"history"`
}

// showHistory prints the runs recorded in the state dir (those about the IPs given as arguments, if any),
// oldest first. It asks neither the API nor the metadata service, so it works when both are down.
func (e *env) showHistory(c *cli.Context) error {
	ips, _, err := assignArgs(c.Args().Slice())
	if err != nil {
		return err
	}
	all, err := state.OpenReadOnly(e.cfg.StateDir).History()
	if err != nil {
		return fmt.Errorf("history in %s: %w", e.cfg.StateDir, err)
	}
	h := History{History: []state.HistoryEntry{}}
	for _, en := range all {
		if len(ips) == 0 || slices.ContainsFunc(ips, func(ip netip.Addr) bool { return slices.Contains(en.IPs, ip.String()) }) {
			h.History = append(h.History, en)
		}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(h)
	}
	printHistory(e.stdout, h.History)
	return nil
}

func printHistory(w io.Writer, h []state.HistoryEntry) {
	if len(h) == 0 {
		fmt.Fprintln(w, "history: nothing recorded on this node yet (notify, assign and reconcile runs that act are recorded)")
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tKEEPALIVED\tDO-FIP\tTOOK\tAPI\tRESULT")
	for _, en := range h {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", en.Time.Local().Format("2006-01-02 15:04:05.000"), keepalivedColumn(en),
			en.Command+": "+didText(en), took(en.DurationMS), en.Requests, resultText(en))
	}
	tw.Flush()
}

func took(ms int64) string {
	if ms < 1000 {
		return fmt.Sprintf("%d ms", ms)
	}
	return fmt.Sprintf("%.2f s", float64(ms)/1000)
}

func keepalivedColumn(en state.HistoryEntry) string {
	if en.State == "" {
		return "-"
	}
	if en.Instance == "" {
		return en.State
	}
	return fmt.Sprintf("%s %s prio %d", en.State, en.Instance, en.Priority)
}

// didText says what do-fip did in a run, for a person.
func didText(en state.HistoryEntry) string {
	if a := en.Assign; a != nil {
		var parts []string
		for _, ip := range a.IPs {
			switch ip.Result {
			case string(engine.Moved):
				parts = append(parts, fmt.Sprintf("moved %s here (action %d)", ip.IP, ip.ActionID))
			case string(engine.AlreadyHeld):
				parts = append(parts, ip.IP+" already here")
			default:
				parts = append(parts, ip.IP+" not moved")
			}
		}
		return strings.Join(parts, ", ")
	}
	ips := strings.Join(en.IPs, ",")
	switch en.Did {
	case "recorded":
		return "recorded " + orDash(en.State) + " for " + ips
	case "ignored":
		return "ignored: a transition keepalived started later was recorded first"
	default:
		return en.Did
	}
}

func resultText(en state.HistoryEntry) string {
	if en.Result == "ok" {
		return "ok"
	}
	s := fmt.Sprintf("%s (exit %d)", en.Result, en.ExitCode)
	if en.Error != "" {
		s += ": " + en.Error
	}
	return s
}
