// Command do-fip moves a DigitalOcean reserved IP to this droplet when keepalived makes it MASTER.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/do-fip/do-fip/app"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// keepalived sends SIGTERM to running hooks when it stops: end the run cleanly and say why in the log.
	ctx, cancel := context.WithCancelCause(context.Background())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { cancel(fmt.Errorf("received %v", <-sig)) }()
	m := app.Main{Version: version, Getenv: os.Getenv, Stdout: os.Stdout, Stderr: os.Stderr}
	os.Exit(m.Run(ctx, os.Args))
}
