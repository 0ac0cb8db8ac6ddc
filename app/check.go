package app

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/do-fip/do-fip/config"
	"github.com/do-fip/do-fip/preflight"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "find what would break a failover before it happens (read-only: never moves an IP)",
		Description: "Run it on each load balancer after installing do-fip and after every change. It reads\n" +
			"keepalived.conf (following its includes) and reads keepalived's version from its binary, checks who keepalived\n" +
			"runs the hooks as and what that user can read and write with its primary group only, the script\n" +
			"path against enable_script_security, the droplet (metadata service), the token and each reserved IP\n" +
			"(one API read each), the clock, where hook runs are logged and, with --port, that something listens\n" +
			"where reserved-IP traffic arrives. One line per check: ok, warn or FAIL, what it saw, and for each\n" +
			"warn or FAIL the fix. It writes nothing and never moves an IP. Exit 0 when nothing FAILs, else " + strconv.Itoa(ExitCheckFailed) + ".",
		Flags: append(commonFlags(), dropletIDFlag(), ipFlag(),
			&cli.StringFlag{Name: "keepalived-config", Value: preflight.DefaultKeepalivedConfig, Usage: "keepalived's config file (its includes are followed)"},
			&cli.StringFlag{Name: "keepalived", Usage: "the keepalived binary whose version decides which options it supports (default: keepalived on PATH or in /usr/sbin)"},
			&cli.StringSliceFlag{Name: "port", Usage: "TCP ports that must listen on the anchor IP or 0.0.0.0, e.g. 80,443 (repeatable)"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON instead of lines"}),
		Action: runCheck,
	}
}

// CheckReport is the JSON form of `do-fip check --json`.
type CheckReport struct {
	*preflight.Report
	Failed   int `json:"failed"`
	Warnings int `json:"warnings"`
}

func runCheck(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usageErr("check takes no arguments (use --ip): got %q", c.Args().First())
	}
	ips, err := withIPFlags(c, nil)
	if err != nil {
		return err
	}
	ports, err := preflight.ParsePorts(c.StringSlice("port"))
	if err != nil {
		return usageErr("bad --port: %v", err)
	}
	// No logger and no state dir: the check writes nothing (a log file it created as root in the state dir
	// would be the very problem it looks for).
	getenv := mainOf(c).Getenv
	cfg, cfgErr := config.Load(explicit(c), getenv)
	rep := preflight.Run(c.Context, preflight.Options{
		KeepalivedConfig: c.String("keepalived-config"),
		Keepalived:       c.String("keepalived"),
		Config:           cfg,
		ConfigErr:        cfgErr,
		Getenv:           getenv,
		IPs:              ips,
		Ports:            ports,
		UserAgent:        "do-fip/" + c.App.Version,
	})
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if err := enc.Encode(CheckReport{Report: rep, Failed: rep.Count(preflight.Fail), Warnings: rep.Count(preflight.Warn)}); err != nil {
			return err
		}
	} else {
		rep.Print(c.App.Writer)
	}
	if rep.Failed() {
		// Each FAIL line already says what and how to fix it: the log gets the count, stderr nothing more.
		return &exitError{code: ExitCheckFailed, err: fmt.Errorf("%d checks failed", rep.Count(preflight.Fail)), shown: true}
	}
	return nil
}
