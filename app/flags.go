package app

import (
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
	if s.Key != "" {
		usage += " [config: " + s.Key + "]"
	}
	// No Value: a default would make the flag look set and hide the config file's value. The default is
	// applied by config.Load and only shown here.
	return &cli.StringFlag{Name: s.Flag, EnvVars: []string{s.Env}, Usage: usage, DefaultText: s.Default}
}

var dropletIDFlag = stringFlag(config.DropletID)

// explicit collects the settings given by flag or environment.
func explicit(c *cli.Context) config.Explicit {
	ex := config.Explicit{}
	for _, s := range append(config.Common, config.DropletID) {
		if s.Flag != "" && c.IsSet(s.Flag) {
			ex[s.Flag] = c.String(s.Flag)
		}
	}
	return ex
}
