// Command do-fip moves a DigitalOcean reserved IP to this droplet when keepalived makes it MASTER.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/do-fip/do-fip/app"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// Failover logs are read to the millisecond.
	zerolog.TimeFieldFormat = time.RFC3339Nano
	// keepalived sends SIGTERM to running hooks when it stops: end the run cleanly and say so in the log.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := app.Run(ctx, version, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
