package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFile(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    map[string]string
		wantErr string
	}{
		"keys, comments and blank lines": {
			in:   "# do-fip\n\nips = 203.0.113.10, 2001:db8:10::10\ntimeout=30s\n  log_level =  debug  \n",
			want: map[string]string{"ips": "203.0.113.10, 2001:db8:10::10", "timeout": "30s", "log_level": "debug"},
		},
		"inline comment after a bare value": {
			in:   "state_dir = /var/lib/do-fip # where locks live\n",
			want: map[string]string{"state_dir": "/var/lib/do-fip"},
		},
		"quoted value keeps a hash": {
			in:   `token = "abc#def"` + "\n",
			want: map[string]string{"token": "abc#def"},
		},
		"empty value": {
			in:   "log_file =\n",
			want: map[string]string{"log_file": ""},
		},
		"unknown key names file, line and key": {
			in:      "ips = 203.0.113.10\n\ntimeout_s = 3\n",
			wantErr: `test.conf:3: config syntax error: unknown key "timeout_s"`,
		},
		"line without equals": {
			in:      "ips 203.0.113.10\n",
			wantErr: "test.conf:1: config syntax error: expected key = value",
		},
		"duplicate key": {
			in:      "timeout = 1s\ntimeout = 2s\n",
			wantErr: `test.conf:2: config syntax error: "timeout" already set on line 1`,
		},
		"unterminated quote": {
			in:      "token = \"abc\n",
			wantErr: "test.conf:1: config syntax error: token: unterminated or malformed quoted value",
		},
		"quoted NUL": {
			in:      `state_dir = "/var/lib/do-fip\x00x"` + "\n",
			wantErr: "test.conf:1: config syntax error: state_dir: value contains a control character",
		},
		"quoted line break": {
			in:      `log_file = "/var/log/do-fip\nforged line"` + "\n",
			wantErr: "test.conf:1: config syntax error: log_file: value contains a control character",
		},
		// A token pasted without its key is not repeated back.
		"token where a key belongs": {
			in:      tok + " = x\n",
			wantErr: "test.conf:1: config syntax error: the text before '=' is not a key (known: ",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f, err := ParseFile("test.conf", strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want prefix %q", err, tc.wantErr)
				}
				if !errors.Is(err, ErrSyntax) {
					t.Errorf("error %v is not ErrSyntax", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(f.Values) != fmt.Sprint(tc.want) {
				t.Errorf("values = %v, want %v", f.Values, tc.want)
			}
		})
	}
}

func TestParseFileTooLarge(t *testing.T) {
	big := strings.Repeat("# padding\n", maxFileSize/10+10)
	if _, err := ParseFile("big.conf", strings.NewReader(big)); !errors.Is(err, ErrSyntax) {
		t.Fatalf("error = %v, want ErrSyntax", err)
	}
}

func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func noEnv(string) string { return "" }

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "do-fip.conf", "timeout = 30s\nstate_dir = /from/file\nlog_level = warn\nips = 203.0.113.10\n", 0o640)

	// Flags and environment arrive together in Explicit (urfave/cli resolves flag over env).
	c, err := Load(Explicit{"config": conf, "timeout": "5s"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Timeout != 5*time.Second {
		t.Errorf("timeout = %v, want 5s from the flag over 30s from the file", c.Timeout)
	}
	if c.StateDir != "/from/file" || c.LogLevel != "warn" {
		t.Errorf("state dir %q, log level %q: want the file's values", c.StateDir, c.LogLevel)
	}
	if c.APIURL != "https://api.digitalocean.com" || c.Syslog != "auto" {
		t.Errorf("api url %q, syslog %q: want defaults", c.APIURL, c.Syslog)
	}
	if len(c.IPs) != 1 || c.IPs[0].String() != "203.0.113.10" {
		t.Errorf("ips = %v, want the file's", c.IPs)
	}
	// DO_FIP_IPS has no flag: the environment beats the file.
	c, err = Load(Explicit{"config": conf}, func(k string) string {
		if k == "DO_FIP_IPS" {
			return "203.0.113.20,2001:db8:10::10"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.IPs) != 2 || c.IPs[0].String() != "203.0.113.20" {
		t.Errorf("ips = %v, want the environment's", c.IPs)
	}
}

// The environment sits between flags and the config file: flags are only what the command line gave.
func TestLoadEnvironmentBetweenFlagAndFile(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "do-fip.conf", "timeout = 30s\nlog_level = warn\n", 0o640)
	env := func(k string) string {
		return map[string]string{"DO_FIP_CONFIG": conf, "DO_FIP_TIMEOUT": "45s", "DO_FIP_LOG_LEVEL": "error"}[k]
	}
	c, err := Load(Explicit{"log-level": "debug"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.ConfigPath != conf || c.Timeout != 45*time.Second || c.LogLevel != "debug" {
		t.Errorf("config %q, timeout %v, log level %q: want the file from DO_FIP_CONFIG, 45s from the environment over the file, debug from the flag over the environment", c.ConfigPath, c.Timeout, c.LogLevel)
	}
}

// Whether the timeout was set at all decides reconcile's deadline; the check-after wait has its default too.
func TestTimeoutDefaults(t *testing.T) {
	dir := t.TempDir()
	empty := writeFile(t, dir, "empty.conf", "# nothing\n", 0o640)
	c, err := Load(Explicit{"config": empty}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Timeout != 120*time.Second || !c.TimeoutIsDefault || c.CheckAfter != 20*time.Second {
		t.Errorf("timeout %v (default %v), check-after %v: want 120s (default true), 20s", c.Timeout, c.TimeoutIsDefault, c.CheckAfter)
	}
	set := writeFile(t, dir, "set.conf", "timeout = 90s\ncheck_after = 15s\n", 0o640)
	c, err = Load(Explicit{"config": set}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Timeout != 90*time.Second || c.TimeoutIsDefault || c.CheckAfter != 15*time.Second {
		t.Errorf("timeout %v (default %v), check-after %v: want the file's 90s (default false), 15s", c.Timeout, c.TimeoutIsDefault, c.CheckAfter)
	}
	if _, err := Load(Explicit{"config": empty, "check-after": "soon"}, noEnv); err == nil || !strings.Contains(err.Error(), "check_after") {
		t.Errorf("bad check-after: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]struct {
		ex      Explicit
		env     map[string]string
		file    string
		wantErr string
		is      error
	}{
		"missing named config file": {
			ex: Explicit{"config": filepath.Join(dir, "nope.conf")}, wantErr: "config file: open", is: os.ErrNotExist,
		},
		"config file is a directory": {
			ex: Explicit{"config": dir}, wantErr: "is a directory", is: ErrInvalid,
		},
		"bad timeout names its source": {
			ex: Explicit{"timeout": "soon"}, wantErr: `timeout "soon" from --timeout`, is: ErrInvalid,
		},
		"negative timeout": {
			ex: Explicit{"timeout": "-1s"}, wantErr: "want a positive duration", is: ErrInvalid,
		},
		"non-numeric droplet id": {
			ex: Explicit{"droplet-id": "lb-a"}, wantErr: `"lb-a" is not a droplet ID`, is: ErrInvalid,
		},
		"http API URL without opt-in": {
			ex: Explicit{"api-url": "http://127.0.0.1:1"}, wantErr: "refusing an http:// API URL", is: ErrInvalid,
		},
		"bad log level from file": {
			file: "log_level = loud\n", wantErr: `log level "loud" from `, is: ErrInvalid,
		},
		"IPv6 with a zone": {
			env: map[string]string{"DO_FIP_IPS": "fe80::1%eth0"}, wantErr: "zone", is: ErrInvalid,
		},
		"private address cannot be a reserved IP": {
			env: map[string]string{"DO_FIP_IPS": "10.0.0.5"}, wantErr: "not a public unicast address", is: ErrInvalid,
		},
		"token in a world-readable config file": {
			file: "token = dop_v1_" + strings.Repeat("a", 64) + "\n", wantErr: "insecure permissions", is: ErrInsecureFile,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ex := tc.ex
			if ex == nil {
				ex = Explicit{}
			}
			if tc.file != "" {
				ex["config"] = writeFile(t, t.TempDir(), "do-fip.conf", tc.file, 0o644)
			}
			_, err := Load(ex, func(k string) string { return tc.env[k] })
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if strings.Contains(err.Error(), "dop_v1_") {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

func TestLoadInsecureOptIn(t *testing.T) {
	c, err := Load(Explicit{"api-url": "http://127.0.0.1:1"}, func(k string) string {
		if k == EnvInsecureAPI {
			return "1"
		}
		return ""
	})
	if err != nil || !c.InsecureAPI {
		t.Fatalf("Load = %v, insecure %v; want http allowed with DO_FIP_INSECURE_API=1", err, c != nil && c.InsecureAPI)
	}
}

const tok = "dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestTokenSources(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "token", "\n# comment\n"+tok+"-file\n", 0o600)
	inConf := writeFile(t, dir, "tokfile.conf", "token_file = "+good+"\n", 0o644)
	withToken := writeFile(t, dir, "with-token.conf", "token = "+tok+"-conf\n", 0o640)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	tests := map[string]struct {
		ex      Explicit
		env     map[string]string
		want    string
		wantSrc string
	}{
		"explicit token file beats the environment": {
			ex: Explicit{"token-file": good}, env: map[string]string{"DIGITALOCEAN_ACCESS_TOKEN": tok + "-env"},
			want: tok + "-file", wantSrc: "token file " + good,
		},
		"doctl's variable first": {
			env:  map[string]string{"DIGITALOCEAN_ACCESS_TOKEN": tok + "-a", "DIGITALOCEAN_TOKEN": tok + "-b", "DO_TOKEN": tok + "-c"},
			want: tok + "-a", wantSrc: "DIGITALOCEAN_ACCESS_TOKEN",
		},
		"terraform's variable second": {
			env: map[string]string{"DIGITALOCEAN_TOKEN": tok + "-b", "DO_TOKEN": tok + "-c"}, want: tok + "-b", wantSrc: "DIGITALOCEAN_TOKEN",
		},
		"the tutorial's DO_TOKEN": {
			env: map[string]string{"DO_TOKEN": tok + "-c"}, want: tok + "-c", wantSrc: "DO_TOKEN",
		},
		"environment beats the config file": {
			ex: Explicit{"config": withToken}, env: map[string]string{"DO_TOKEN": tok + "-c"}, want: tok + "-c", wantSrc: "DO_TOKEN",
		},
		"token_file in the config": {
			ex: Explicit{"config": inConf}, want: tok + "-file", wantSrc: "token file " + good,
		},
		"token in a 0640 config": {
			ex: Explicit{"config": withToken}, want: tok + "-conf", wantSrc: "config file " + withToken,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ex := tc.ex
			if ex == nil {
				ex = Explicit{"config": filepath.Join(dir, "absent-default.conf")}
				delete(ex, "config")
			}
			c, err := Load(ex, env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			got, src, err := c.Token(env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if got.Reveal() != tc.want || src != tc.wantSrc {
				t.Errorf("token from %q (match %v), want from %q", src, got.Reveal() == tc.want, tc.wantSrc)
			}
		})
	}
}

func TestNoToken(t *testing.T) {
	c, err := Load(Explicit{"config": writeFile(t, t.TempDir(), "c.conf", "", 0o644)}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Token(noEnv); !errors.Is(err, ErrNoToken) {
		t.Fatalf("error = %v, want ErrNoToken", err)
	}
}

func TestTokenFilePermissions(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]struct {
		mode    os.FileMode
		wantErr string
	}{
		"0600 ok":              {mode: 0o600},
		"0640 ok":              {mode: 0o640},
		"0400 ok":              {mode: 0o400},
		"world readable":       {mode: 0o644, wantErr: "mode 0644 lets other users read or change it (fix: chmod 600"},
		"group writable":       {mode: 0o660, wantErr: "mode 0660"},
		"world writable only":  {mode: 0o602, wantErr: "mode 0602"},
		"world executable bit": {mode: 0o601, wantErr: "mode 0601"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, dir, strings.ReplaceAll(name, " ", "-"), tok+"\n", tc.mode)
			got, err := ReadTokenFile(p)
			if tc.wantErr == "" {
				if err != nil || got != tok {
					t.Fatalf("ReadTokenFile = (match %v, %v)", got == tok, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInsecureFile) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), tok) {
				t.Error("error shows the token")
			}
		})
	}
}

func TestTokenFileOwnedByAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown a file to another user")
	}
	p := writeFile(t, t.TempDir(), "token", tok+"\n", 0o600)
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err := ReadTokenFile(p)
	if err == nil || !strings.Contains(err.Error(), "owned by uid 65534") || !strings.Contains(err.Error(), "fix: chown root") {
		t.Fatalf("error = %v, want a refusal naming the owner and the fix", err)
	}
}

func TestTokenFileContent(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty":        "\n\n",
		"only comment": "# put the token here\n",
		"inner space":  "dop_v1_abc def\n",
		"control char": "dop_v1_abc\x01def\n",
	} {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, dir, strings.ReplaceAll(name, " ", "-"), content, 0o600)
			if _, err := ReadTokenFile(p); err == nil {
				t.Fatal("accepted a file with no usable token")
			} else if strings.Contains(err.Error(), "dop_v1_abc") {
				t.Errorf("error shows the file's content: %v", err)
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret(tok)
	b, _ := json.Marshal(struct{ T Secret }{s})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %q %+v %#v %x", s, s, s, s, s, s), string(b)} {
		if strings.Contains(out, "dop_v1") || strings.Contains(out, "646f70") {
			t.Errorf("secret shown: %s", out)
		}
	}
	if s.Reveal() != tok {
		t.Error("Reveal lost the token")
	}
}

func TestParseIP(t *testing.T) {
	tests := map[string]string{
		"203.0.113.10":        "",
		"2001:db8:10::10":     "",
		"::ffff:203.0.113.10": "",
		"":                    "not an IP address",
		"203.0.113":           "not an IP address",
		"203.0.113.10/32":     "not an IP address",
		"127.0.0.1":           "not a public unicast",
		"192.168.1.1":         "not a public unicast",
		"224.0.0.18":          "not a public unicast",
		"fe80::1%eth0":        "zone",
	}
	for in, want := range tests {
		_, err := ParseIP(in)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("ParseIP(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestParseIPList(t *testing.T) {
	ips, err := ParseIPList(" 203.0.113.10 ,2001:db8:10::10 ")
	if err != nil || len(ips) != 2 {
		t.Fatalf("ParseIPList = %v, %v", ips, err)
	}
	if _, err := ParseIPList("203.0.113.10,203.0.113.10"); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate accepted: %v", err)
	}
	if _, err := ParseIPList(" , "); err == nil {
		t.Error("empty list accepted")
	}
}
