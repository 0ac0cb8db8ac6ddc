// Command do-fip moves a DigitalOcean reserved IP to this droplet when keepalived makes it MASTER.
package main

import (
	"context"
	"fmt"
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
	// keepalived sends SIGTERM to running hooks when it stops: end the run cleanly and say why in the log.
	ctx, cancel := context.WithCancelCause(context.Background())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { cancel(fmt.Errorf("received %v", <-sig)) }()
	code := app.Run(ctx, version, os.Args, os.Stdout, os.Stderr)
	os.Exit(code)
}
