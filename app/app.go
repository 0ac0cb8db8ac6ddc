// Package app is do-fip's command line: it parses arguments, resolves the configuration, wires the clients
// together and maps every outcome to a documented exit code. Only package main exits.
package app

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/do-fip/do-fip/config"
	"github.com/do-fip/do-fip/doapi"
	"github.com/do-fip/do-fip/logging"
	"github.com/do-fip/do-fip/metadata"
	"github.com/do-fip/do-fip/state"
)

// Main is one run of do-fip and what it takes from the process around it. main fills it from the process;
// tests fill it from a table row, so that many runs go side by side in one test process. A run reads the process
// environment only through Getenv, and writes to Stdout and Stderr, never to os.Stdout or os.Stderr. (One
// exception: net/http reads HTTPS_PROXY and NO_PROXY for the API client once per process.)
type Main struct {
	Version string
	// Getenv reads the run's environment (settings, the API token); nil is an empty environment.
	Getenv func(string) string
	// Stdout and Stderr take the run's output; they must be safe for concurrent writes, as an *os.File is.
	Stdout, Stderr io.Writer
	// Event returns the run's place in keepalived's order of hooks, the same at every call; nil is this
	// process's start (state.SelfStart).
	Event func() state.ProcStart
}

// Run runs do-fip with args (args[0] is the program name) and returns the exit code.
func (m Main) Run(ctx context.Context, args []string) int {
	processSettings.Do(setProcessSettings)
	if m.Version == "" {
		m.Version = "unknown" // an empty version would hide --version
	}
	if m.Getenv == nil {
		m.Getenv = func(string) string { return "" }
	}
	if m.Event == nil {
		m.Event = state.SelfStart
	}
	a := newApp(m)
	run := &runHolder{}
	err := a.RunContext(context.WithValue(ctx, runKey{}, run), args)
	code := exitCode(err)
	// The one place a command's error reaches a person and the log.
	switch {
	case err == nil:
	case run.env != nil:
		run.env.report(m.Stderr, err)
	default:
		// Bad arguments or configuration, before the run's logs were open: keepalived discards stderr, so
		// syslog gets it too.
		l := logging.New(logging.Options{Level: "info", Syslog: "auto", Command: commandName(args)})
		logFailure(l.Error(), code, err)
		l.Close()
		printFailure(m.Stderr, err)
	}
	if run.env != nil {
		// Every command that read its configuration ends here: its history entry and metrics, then its logs.
		run.env.finish(ctx, m.Version, code)
	}
	return code
}

// report tells the log and a person about err: the log gets the cause, the exit code and the hint; stderr the
// cause and the hint, unless the command's own output already says it. Run reports what a command returns;
// reconcile, which exits 0 whatever happened, reports its own.
func (e *env) report(w io.Writer, err error) {
	code := exitCode(err)
	e.obs.failed(code, err)
	logFailure(e.log.Record.Error(), code, err)
	if !shownByCommand(err) {
		printFailure(w, err)
	}
}

func logFailure(ev *zerolog.Event, code int, err error) {
	ev = ev.Str("event", "failed").Int("exit_code", code)
	if h := hintFor(err); h != "" {
		ev = ev.Str("hint", h)
	}
	ev.Msg(oneLine(err.Error()))
}

func printFailure(w io.Writer, err error) {
	fmt.Fprintf(w, "do-fip: error: %s\n", oneLine(err.Error()))
	if h := hintFor(err); h != "" {
		fmt.Fprintf(w, "hint: %s\n", h)
	}
}

// mainKey is where the app keeps its Main, for the commands' actions.
const mainKey = "main"

func mainOf(c *cli.Context) Main { return c.App.Metadata[mainKey].(Main) }

func commandName(args []string) string {
	for _, a := range args[min(1, len(args)):] {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

const description = "do-fip is the keepalived notify hook for DigitalOcean reserved IPs. In keepalived.conf:\n\n" +
	"   notify \"/usr/bin/do-fip notify\"\n\n" +
	"(quote the whole command: unquoted, keepalived reads the words after the path as a user name and drops\n" +
	"the hook). Settings come from flags, then the environment (DO_FIP_TIMEOUT and the like), then the config\n" +
	"file (" + config.DefaultConfigPath + "), then defaults. The common options are accepted before the command as\n" +
	"well as after it (do-fip --log-level debug status); after it wins. The API token never goes on the command line.\n" +
	"Every run logs to syslog/journald (tag do-fip), to --log-file when set, and to stderr."

func newApp(m Main) *cli.App {
	a := &cli.App{
		Name:                 "do-fip",
		Usage:                "move a DigitalOcean reserved IP to this droplet when keepalived makes it MASTER",
		Version:              m.Version,
		Description:          description + "\n\n" + exitCodesHelp(),
		Writer:               m.Stdout,
		ErrWriter:            m.Stderr,
		Metadata:             map[string]any{mainKey: m},
		HideHelpCommand:      true,
		EnableBashCompletion: true,
		// The common settings before the command as well as after it.
		Flags: commonFlags(),
		// The library must never exit the process; Run maps errors to exit codes.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return &exitError{code: ExitUsage, err: err, hint: "run 'do-fip --help' for the usage"}
		},
		Commands: []*cli.Command{
			assignCommand(),
			statusCommand(),
			notifyCommand(),
			reconcileCommand(),
			simulateCommand(),
			checkCommand(),
			manCommand(),
			completionCommand(),
		},
	}
	for _, c := range a.Commands {
		if c.OnUsageError == nil {
			c.OnUsageError = a.OnUsageError
		}
		// As for the app: --help only. The library's help command is one value shared by every run in the
		// process, and it writes to it.
		c.HideHelpCommand = true
	}
	return a
}

// env is what a command that talks to DigitalOcean needs, built once per run.
type env struct {
	cfg    *config.Config
	log    *logging.Logger
	stdout io.Writer
	getenv func(string) string
	// self is this run's place in keepalived's order of hooks.
	self func() state.ProcStart
	// obs is what the run did, for its history entry and metrics (observe.go).
	obs observed
}

// setup resolves the configuration and opens the logs. A configuration error is still logged (to syslog with
// the default settings), because keepalived discards the hook's stderr.
func setup(c *cli.Context, command string) (*env, error) {
	m := mainOf(c)
	cfg, err := config.Load(explicit(c), m.Getenv)
	if err != nil {
		return nil, &exitError{code: ExitConfig, err: err} // Run logs it
	}
	if command == "reconcile" && cfg.TimeoutIsDefault {
		cfg.Timeout = config.ReconcileTimeout
	}
	l := logging.New(logging.Options{Level: cfg.LogLevel, File: cfg.LogFile, Syslog: cfg.Syslog,
		Stderr: c.App.ErrWriter, Command: command, Fallback: fallbackLog(cfg)})
	e := &env{cfg: cfg, log: l, stdout: c.App.Writer, getenv: m.Getenv, self: m.Event}
	e.observe(c, command)
	return e, nil
}

// close closes the logs, unless Run closes them once it has written the run's history and metrics.
func (e *env) close() {
	if !e.obs.owned {
		e.log.Close()
	}
}

// fallbackLog is where a run logs when it has neither syslog nor a log file (syslog off, or no /dev/log as in
// some containers): keepalived discards stderr, so without it a failover would leave no trace.
func fallbackLog(cfg *config.Config) string {
	if fi, err := os.Stat(cfg.StateDir); err != nil || !fi.IsDir() {
		return ""
	}
	return filepath.Join(cfg.StateDir, "do-fip.log")
}

// setupWithIPs is setup for commands that manage IPs: given (from arguments and --ip) if any, else the
// configured ones; none at all is a usage error.
func setupWithIPs(c *cli.Context, command string, given []netip.Addr) (*env, []netip.Addr, error) {
	e, err := setup(c, command)
	if err != nil {
		return nil, nil, err
	}
	ips := given
	if len(ips) == 0 {
		ips = e.cfg.IPs
	}
	e.obs.ips = ips
	if len(ips) == 0 {
		e.close()
		return nil, nil, usageErr("no reserved IP given: pass it as an argument or --ip, set DO_FIP_IPS, or set 'ips' in %s", e.cfg.ConfigPath)
	}
	return e, ips, nil
}

func (e *env) apiClient(version string) (*doapi.Client, error) {
	tok, src, err := e.cfg.Token(e.getenv)
	if err != nil {
		return nil, &exitError{code: ExitConfig, err: err}
	}
	e.log.Debug().Str("token_source", src).Msg("found the API token")
	c, err := doapi.New(doapi.Options{
		Token:         tok.Reveal(),
		BaseURL:       e.cfg.APIURL,
		AllowInsecure: e.cfg.InsecureAPI,
		UserAgent:     "do-fip/" + version,
		Logger:        e.log.Logger,
	})
	if err != nil {
		return nil, &exitError{code: ExitConfig, err: err}
	}
	e.obs.apis = append(e.obs.apis, c)
	return c, nil
}

func (e *env) metadataClient() *metadata.Client {
	return metadata.NewClient(metadata.WithBaseURL(e.cfg.MetadataURL))
}

func (e *env) stateDir() (*state.Dir, error) {
	d, err := state.Open(e.cfg.StateDir)
	if err != nil {
		return nil, &exitError{code: ExitConfig, err: fmt.Errorf("state dir %s: %w", e.cfg.StateDir, err),
			hint: "create it for the user keepalived runs scripts as (keepalived_script), or set --state-dir"}
	}
	e.obs.stateDir = true
	d.ObserveAssigns(e.obs.assigned)
	return d, nil
}

// deadline bounds a whole run so keepalived never accumulates hung hooks.
func (e *env) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, e.cfg.Timeout, fmt.Errorf("deadline of %s passed", e.cfg.Timeout))
}
