package app

import (
	"net/netip"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/do-fip/do-fip/config"
)

// commonFlags builds the flags every command takes from config's settings table, so that flag names, env names
// and config keys are declared in one place.
func commonFlags() []cli.Flag {
	var out []cli.Flag
	for _, s := range config.Common {
		out = append(out, stringFlag(s))
	}
	return out
}

func stringFlag(s config.Setting) *cli.StringFlag {
	usage := s.Usage
	switch {
	case s.Env != "" && s.Key != "":
		usage += " [env: " + s.Env + ", config: " + s.Key + "]"
	case s.Env != "":
		usage += " [env: " + s.Env + "]"
	case s.Key != "":
		usage += " [config: " + s.Key + "]"
	}
	// No Value: a default would make the flag look set and hide the config file's value. No EnvVars either:
	// config.Load applies flag > environment > config file > default in one place, and a flag given before the
	// command must beat the environment. The default is only shown here.
	return &cli.StringFlag{Name: s.Flag, Usage: usage, DefaultText: s.Default}
}

// dropletIDFlag is built per command: urfave/cli records on a flag value whether it was set, so commands must
// not share one.
func dropletIDFlag() cli.Flag { return stringFlag(config.DropletID) }

// explicit collects the settings given as flags. The common settings are accepted before the
// command too (do-fip --log-level debug status), as doctl and kubectl accept theirs; a flag after the command
// wins over one before it.
func explicit(c *cli.Context) config.Explicit {
	ex := config.Explicit{}
	for _, s := range append(config.Common, config.DropletID) {
		if s.Flag == "" {
			continue
		}
		// The flags have no EnvVars, so IsSet means given on this level's command line.
		for _, cc := range c.Lineage() {
			if slices.Contains(cc.LocalFlagNames(), s.Flag) {
				ex[s.Flag] = cc.String(s.Flag)
				break
			}
		}
	}
	return ex
}

// ipFlag names the reserved IPs a command manages, for setups with several VRRP instances (active/active),
// where each instance's hooks name their own IP. Without it, the configured IPs are used.
func ipFlag() *cli.StringSliceFlag {
	return &cli.StringSliceFlag{Name: "ip", Usage: "reserved IP to manage (repeatable; default: DO_FIP_IPS or ips in the config)"}
}

// withIPFlags adds the --ip values to ips, refusing bad or repeated ones.
func withIPFlags(c *cli.Context, ips []netip.Addr) ([]netip.Addr, error) {
	for _, v := range c.StringSlice("ip") {
		ip, err := config.ParseIP(v)
		if err == nil {
			ips, err = config.AddIP(ips, ip)
		}
		if err != nil {
			return nil, usageErr("bad --ip: %v", err)
		}
	}
	return ips, nil
}
