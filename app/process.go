package app

import (
	"flag"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

// processSettings are settings that belong to the process, not to a run: the libraries keep them in package
// variables. They are made once, by the first run, so that runs can go side by side in one process (the CLI
// tests run them so); importing the package changes nothing.
var processSettings sync.Once

func setProcessSettings() {
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
