package app

import (
	"flag"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

// Settings that belong to the process, not to a run, made once so that runs can go side by side in one
// process (the CLI tests run them so).
func init() {
	// Failover logs are read to the millisecond.
	zerolog.TimeFieldFormat = time.RFC3339Nano
	// urfave/cli adds its help and version flags from package variables to every app and command it runs,
	// and applying a *cli.BoolFlag writes to it.
	cli.HelpFlag = sharedBoolFlag{cli.HelpFlag.(*cli.BoolFlag)}
	cli.VersionFlag = sharedBoolFlag{cli.VersionFlag.(*cli.BoolFlag)}
}

// sharedBoolFlag is a bool flag shared by every run in the process: each run applies a copy of it.
type sharedBoolFlag struct{ *cli.BoolFlag }

func (f sharedBoolFlag) Apply(set *flag.FlagSet) error {
	c := *f.BoolFlag
	return c.Apply(set)
}
