package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/do-fip/do-fip/dosim"
)

func simulateCommand() *cli.Command {
	return &cli.Command{
		Name:  "simulate",
		Usage: "run the built-in DigitalOcean simulator (API and metadata service) to try a setup without an account",
		Description: "Serves a simulated DigitalOcean account: the reserved IP API with asynchronous actions, rate\n" +
			"limits and DigitalOcean's error bodies, the metadata service (per droplet by source address, or\n" +
			"under /droplets/ID on loopback), and a control API under /_sim for fault injection.\n" +
			"Without --world: droplets 1001 (lb-a) and 1002 (lb-b) in nyc3, reserved IPs 203.0.113.10 and\n" +
			"2001:db8:10::10, token " + dosim.DemoToken + ".\n" +
			"Point do-fip at it with DO_FIP_INSECURE_API=1 --api-url http://ADDR --metadata-url http://ADDR/droplets/1001.",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "listen", Value: cli.NewStringSlice("127.0.0.1:8089"),
				Usage: "address to serve on (repeatable; port 0 picks a free port)"},
			&cli.StringFlag{Name: "world", Usage: "JSON file describing droplets, reserved IPs and tokens"},
			&cli.DurationFlag{Name: "action-latency", Usage: "how long an action stays in-progress (overrides the world)"},
		},
		Action: runSimulate,
	}
}

func runSimulate(c *cli.Context) error {
	w := dosim.DemoWorld()
	if p := c.String("world"); p != "" {
		var err error
		if w, err = dosim.LoadWorld(p); err != nil {
			return &exitError{code: ExitConfig, err: fmt.Errorf("world %s: %w", p, err)}
		}
	}
	if c.IsSet("action-latency") {
		w.ActionLatency = c.Duration("action-latency")
	}
	sim, err := dosim.New(w)
	if err != nil {
		return &exitError{code: ExitConfig, err: fmt.Errorf("simulator: %w", err)}
	}
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 5 * time.Second}
	var lns []net.Listener
	for _, addr := range c.StringSlice("listen") {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return &exitError{code: ExitConfig, err: fmt.Errorf("simulator: listen: %w", err)}
		}
		lns = append(lns, ln)
	}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- srv.Serve(ln) }()
	}
	out := c.App.Writer
	for _, ln := range lns {
		fmt.Fprintf(out, "dosim: serving http://%s\n", ln.Addr())
	}
	ids := make([]int, 0, len(w.Droplets))
	for _, d := range w.Droplets {
		ids = append(ids, d.ID)
	}
	sort.Ints(ids)
	for _, id := range ids {
		fmt.Fprintf(out, "dosim: metadata of droplet %d at http://%s/droplets/%d\n", id, lns[0].Addr(), id)
	}
	fmt.Fprintf(out, "dosim: action latency %s; stop with Ctrl-C\n", w.ActionLatency)

	select {
	case <-c.Context.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("simulator: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}
