package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Setting is one option: its flag, its environment variable and its config file key, declared once so that the
// CLI, the config file and the documentation cannot drift apart. Precedence: flag > env > config file > default.
type Setting struct {
	Flag    string
	Env     string
	Key     string
	Default string
	Usage   string
}

// DefaultConfigPath is read when neither --config nor DO_FIP_CONFIG names a file; it may be missing.
const DefaultConfigPath = "/etc/do-fip/do-fip.conf"

// EnvInsecureAPI, set to 1, allows an http:// API URL (simulators, tests). It exists only in the environment so
// that a config file copied between machines cannot carry it.
const EnvInsecureAPI = "DO_FIP_INSECURE_API"

// Settings every command shares.
var (
	ConfigFile = Setting{Flag: "config", Env: "DO_FIP_CONFIG", Default: DefaultConfigPath,
		Usage: "config file (key = value lines)"}
	TokenFile = Setting{Flag: "token-file", Env: "DO_FIP_TOKEN_FILE", Key: KeyTokenFile,
		Usage: "file holding the API token (mode 0600 or 0640); else DIGITALOCEAN_ACCESS_TOKEN, DIGITALOCEAN_TOKEN, DO_TOKEN"}
	APIURL = Setting{Flag: "api-url", Env: "DO_FIP_API_URL", Key: KeyAPIURL, Default: DefaultAPIURL,
		Usage: "DigitalOcean API base URL"}
	MetadataURL = Setting{Flag: "metadata-url", Env: "DO_FIP_METADATA_URL", Key: KeyMetadataURL, Default: DefaultMetadataURL,
		Usage: "metadata service base URL"}
	StateDir = Setting{Flag: "state-dir", Env: "DO_FIP_STATE_DIR", Key: KeyStateDir, Default: "/var/lib/do-fip",
		Usage: "directory for locks and the record of the last runs"}
	LogFile = Setting{Flag: "log-file", Env: "DO_FIP_LOG_FILE", Key: KeyLogFile,
		Usage: "also append JSON log lines to this file"}
	LogLevel = Setting{Flag: "log-level", Env: "DO_FIP_LOG_LEVEL", Key: KeyLogLevel, Default: "info",
		Usage: "debug, info, warn or error"}
	Syslog = Setting{Flag: "syslog", Env: "DO_FIP_SYSLOG", Key: KeySyslog, Default: "auto",
		Usage: "log to syslog/journald: auto (when /dev/log exists), on or off"}
	// The deadline fits a minute-long rate-limit window (a fleet failing over on one token may meet it), its
	// spread, a 10–15 s move and a second window's worth of margin; the fleet benchmark (make bench) measures it.
	Timeout = Setting{Flag: "timeout", Env: "DO_FIP_TIMEOUT", Key: KeyTimeout, Default: "120s",
		Usage: "deadline for the whole run (e.g. 120s, 3m)"}
	// ReconcileTimeout is reconcile's deadline unless one is set: it runs as a periodic vrrp_script, and
	// keepalived counts a script that outlives the script's timeout (25 s in the shipped examples) as failed,
	// which puts a tracked instance in FAULT. A repair that does not fit is tried again at the next interval.
	ReconcileTimeout = 20 * time.Second
	CheckAfter       = Setting{Flag: "check-after", Env: "DO_FIP_CHECK_AFTER", Key: KeyCheckAfter, Default: "20s",
		Usage: "after the API accepted a move, how long to wait for the metadata service to show it before reading the action (an errored move never shows there)"}
	DropletID = Setting{Flag: "droplet-id", Env: "DO_FIP_DROPLET_ID", Key: KeyDropletID,
		Usage: "this droplet's ID (default: ask the metadata service)"}
	MetricsFile = Setting{Flag: "metrics-file", Env: "DO_FIP_METRICS_FILE", Key: KeyMetricsFile,
		Usage: "after every notify, assign and reconcile, write Prometheus metrics to this file (node_exporter's textfile collector; name ends in .prom)"}
	IPs = Setting{Env: "DO_FIP_IPS", Key: KeyIPs,
		Usage: "reserved IPs to manage, comma-separated"}
)

// Common lists the settings that every command takes as flags.
var Common = []Setting{ConfigFile, TokenFile, APIURL, MetadataURL, StateDir, LogFile, LogLevel, Syslog, Timeout, CheckAfter, MetricsFile}

// Secret holds the API token. Its String and MarshalJSON never show it, so a token printed by mistake shows as a
// placeholder instead.
type Secret string

func (Secret) String() string                { return "[redacted]" }
func (Secret) GoString() string              { return "[redacted]" }
func (Secret) MarshalJSON() ([]byte, error)  { return []byte(`"[redacted]"`), nil }
func (Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte("[redacted]")) }

// Reveal returns the token itself, for the one place that puts it in an Authorization header.
func (s Secret) Reveal() string { return string(s) }

// Config is the resolved configuration of one run.
type Config struct {
	ConfigPath  string
	IPs         []netip.Addr
	APIURL      string
	MetadataURL string
	StateDir    string
	LogFile     string
	LogLevel    string
	Syslog      string
	Timeout     time.Duration
	// TimeoutIsDefault: no flag, environment or config file set the timeout (reconcile uses a shorter one then).
	TimeoutIsDefault bool
	CheckAfter       time.Duration
	DropletID        int
	MetricsFile      string // empty: no metrics
	InsecureAPI      bool

	file          *File
	explicitToken string // token file named by flag or env
}

// ErrInvalid marks a setting with a bad value.
var ErrInvalid = errors.New("invalid setting")

// Explicit holds the values given as flags on the command line; anything not in it comes from the environment,
// then the config file, then the default.
type Explicit map[string]string

// Load resolves the configuration. configExplicit tells whether the config path was named by the user (then a
// missing file is an error) or is the default (then a missing file is fine).
func Load(ex Explicit, getenv func(string) string) (*Config, error) {
	c := &Config{}
	path, named := ex[ConfigFile.Flag]
	if v := getenv(ConfigFile.Env); !named && v != "" {
		path, named = v, true
	}
	if !named {
		path = ConfigFile.Default
	}
	c.ConfigPath = path
	f, err := readConfigFile(path, named)
	if err != nil {
		return nil, err
	}
	c.file = f
	get := func(s Setting) (string, string) {
		if v, ok := ex[s.Flag]; ok && s.Flag != "" {
			return v, "--" + s.Flag
		}
		if s.Env != "" {
			if v := getenv(s.Env); v != "" {
				return v, s.Env
			}
		}
		if v, ok := f.Get(s.Key); ok && s.Key != "" {
			return v, fmt.Sprintf("%s:%d", f.Name, f.Lines[s.Key])
		}
		return s.Default, "default"
	}
	c.APIURL, _ = get(APIURL)
	c.MetadataURL, _ = get(MetadataURL)
	c.StateDir, _ = get(StateDir)
	c.LogFile, _ = get(LogFile)
	c.LogLevel, _ = get(LogLevel)
	c.Syslog, _ = get(Syslog)
	c.MetricsFile, _ = get(MetricsFile)
	c.InsecureAPI = getenv(EnvInsecureAPI) == "1"
	if v, ok := ex[TokenFile.Flag]; ok {
		c.explicitToken = v
	} else if v := getenv(TokenFile.Env); v != "" {
		c.explicitToken = v
	}

	var errs []error
	duration := func(s Setting, dst *time.Duration) {
		v, src := get(s)
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > 24*time.Hour {
			errs = append(errs, fmt.Errorf("%w: %s %q from %s: want a positive duration like %s", ErrInvalid, s.Key, v, src, s.Default))
		}
		*dst = d
	}
	duration(Timeout, &c.Timeout)
	_, timeoutSrc := get(Timeout)
	c.TimeoutIsDefault = timeoutSrc == "default"
	duration(CheckAfter, &c.CheckAfter)
	if v, src := get(DropletID); v != "" {
		id, err := ParseDropletID(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: droplet id from %s: %v", ErrInvalid, src, err))
		}
		c.DropletID = id
	}
	if v, src := get(IPs); v != "" {
		ips, err := ParseIPList(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: ips from %s: %v", ErrInvalid, src, err))
		}
		c.IPs = ips
	}
	switch lv, src := get(LogLevel); lv {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("%w: log level %q from %s: want debug, info, warn or error", ErrInvalid, lv, src))
	}
	switch sv, src := get(Syslog); sv {
	case "auto", "on", "off":
	default:
		errs = append(errs, fmt.Errorf("%w: syslog %q from %s: want auto, on or off", ErrInvalid, sv, src))
	}
	apiURL, apiSrc := get(APIURL)
	if _, err := APIBaseURL(apiURL, c.InsecureAPI); err != nil {
		errs = append(errs, fmt.Errorf("%w: api url from %s: %w", ErrInvalid, apiSrc, err))
	}
	mdURL, mdSrc := get(MetadataURL)
	if _, err := checkURL(mdURL, true); err != nil {
		errs = append(errs, fmt.Errorf("%w: metadata url from %s: %w", ErrInvalid, mdSrc, err))
	}
	if v, src := get(MetricsFile); v != "" && !strings.HasSuffix(v, ".prom") {
		// node_exporter's textfile collector reads only *.prom: any other name would be ignored without a word.
		errs = append(errs, fmt.Errorf("%w: metrics file %q from %s: its name must end in .prom, the only files node_exporter reads", ErrInvalid, v, src))
	}
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return c, nil
}

func readConfigFile(path string, named bool) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !named {
			return &File{Name: path, Values: map[string]string{}, Lines: map[string]int{}}, nil
		}
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("config file %s: %w: is a directory", path, ErrInvalid)
	}
	f, err := ParseFile(path, fh)
	if err != nil {
		return nil, err
	}
	if _, ok := f.Get(KeyToken); ok {
		// A token kept in the config file makes it a secret file.
		if err := CheckSecretFile(path, fi); err != nil {
			return nil, fmt.Errorf("config file %w (it holds the API token)", err)
		}
	}
	return f, nil
}

// Token finds the API token: a token file named by --token-file or DO_FIP_TOKEN_FILE, then the environment
// (DIGITALOCEAN_ACCESS_TOKEN, DIGITALOCEAN_TOKEN, DO_TOKEN), then token_file and token in the config file.
// It returns where the token came from, for logs.
func (c *Config) Token(getenv func(string) string) (Secret, string, error) {
	return c.TokenFor(getenv, os.Geteuid())
}

// TokenFor is Token as a run as uid would find it (do-fip check, run as root, asks for keepalived's hook
// user): a token file may belong to that user.
func (c *Config) TokenFor(getenv func(string) string, uid int) (Secret, string, error) {
	if c.explicitToken != "" {
		t, err := readTokenFileFor(c.explicitToken, uid)
		return Secret(t), "token file " + c.explicitToken, err
	}
	for _, name := range TokenEnvVars {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			if err := checkTokenText(v); err != nil {
				return "", name, fmt.Errorf("%s: %w", name, err)
			}
			return Secret(v), name, nil
		}
	}
	if p, ok := c.file.Get(KeyTokenFile); ok && p != "" {
		t, err := readTokenFileFor(p, uid)
		return Secret(t), "token file " + p, err
	}
	if t, ok := c.file.Get(KeyToken); ok && t != "" {
		if err := checkTokenText(t); err != nil {
			return "", c.file.Name, fmt.Errorf("%s: token: %w", c.file.Name, err)
		}
		return Secret(t), "config file " + c.file.Name, nil
	}
	return "", "", fmt.Errorf("%w: set token in %s (mode 0640), name a file with --token-file or DO_FIP_TOKEN_FILE, or export DIGITALOCEAN_ACCESS_TOKEN",
		ErrNoToken, c.ConfigPath)
}

// ParseIP parses one reserved IP as given by a person: a plain IPv4 or IPv6 address, no zone, no prefix length.
func ParseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q: a reserved IP has no zone", s)
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return netip.Addr{}, fmt.Errorf("%q is not a public unicast address, so it cannot be a reserved IP", s)
	}
	return a, nil
}

// ParseIPList parses a comma- or space-separated list of reserved IPs, refusing duplicates.
func ParseIPList(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		a, err := ParseIP(f)
		if err != nil {
			return nil, err
		}
		if out, err = AddIP(out, a); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no IP given")
	}
	return out, nil
}

// AddIP appends ip to list; an IP already in it is an error that names it.
func AddIP(list []netip.Addr, ip netip.Addr) ([]netip.Addr, error) {
	if slices.Contains(list, ip) {
		return list, fmt.Errorf("%s is given twice", ip)
	}
	return append(list, ip), nil
}

// ParseDropletID parses a droplet ID: a positive decimal integer.
func ParseDropletID(s string) (int, error) {
	id, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%q is not a droplet ID (a positive number)", s)
	}
	return id, nil
}
