package app

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/do-fip/do-fip/config"
)

// manCommand prints the man page generated from this very CLI, so the page and the program cannot drift.
func manCommand() *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the man page (roff)",
		Hidden: true,
		Action: func(c *cli.Context) error {
			// urfave/cli renders the description as markdown, which would run the exit code table into one
			// paragraph: the tables get roff sections of their own, built from the same data as --help.
			saved := c.App.Description
			c.App.Description = description
			page, err := c.App.ToManWithSection(1)
			c.App.Description = saved
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(c.App.Writer, page+manSections())
			return err
		},
	}
}

// manSections returns the ENVIRONMENT, FILES and EXIT STATUS sections in roff.
func manSections() string {
	var b strings.Builder
	b.WriteString("\n.SH ENVIRONMENT\n")
	for _, s := range append(append([]config.Setting{}, config.Common...), config.DropletID, config.IPs) {
		fmt.Fprintf(&b, ".TP\n.B %s\n%s", roffEscape(s.Env), roffEscape(s.Usage))
		if s.Key != "" {
			fmt.Fprintf(&b, " (config key \\fB%s\\fP)", roffEscape(s.Key))
		}
		b.WriteString(".\n")
	}
	fmt.Fprintf(&b, ".TP\n.B %s\nThe API token, looked up in this order after a token file named by \\fB--token-file\\fP.\n",
		roffEscape(strings.Join(config.TokenEnvVars, ", ")))
	fmt.Fprintf(&b, ".TP\n.B %s\nSet to 1 to allow an http:// API URL (simulators only).\n", roffEscape(config.EnvInsecureAPI))
	b.WriteString(".SH FILES\n.TP\n.B " + roffEscape(config.DefaultConfigPath) + "\nThe config file: key = value lines; keep it mode 0640, owner root, group keepalived_script, if it holds the token.\n")
	b.WriteString(".TP\n.B " + roffEscape(config.StateDir.Default) + "\nLocks, recorded keepalived transitions and the last assign, for \\fBdo-fip status\\fP.\n")
	b.WriteString(".SH EXIT STATUS\n")
	for _, e := range exitCodes {
		fmt.Fprintf(&b, ".TP\n.B %d\n%s\n", e.code, roffEscape(e.meaning))
	}
	return b.String()
}

func roffEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
