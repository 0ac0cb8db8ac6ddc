package preflight

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// dump writes the statement tree as "keyword|word|word" lines, children indented, quoted words in "".
func dump(stmts []*Stmt, indent string) string {
	var b strings.Builder
	for _, s := range stmts {
		b.WriteString(indent + s.Source() + "\n")
		b.WriteString(dump(s.Children, indent+"  "))
	}
	return b.String()
}

func TestParseConf(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"keepalived.conf": `! Configuration File for keepalived
global_defs {   # the brace on the keyword's line
    script_user keepalived_script   ! a '!' comment
}
$PEER=10.10.0.12
vrrp_script chk
{
    script "/usr/bin/do-fip reconcile --timeout 20s"  # quoted: one word, spaces kept
    interval 15
}
include conf.d/*.conf
vrrp_instance VI_1 {
    unicast_peer { $PEER }
    track_script {
        chk weight 0
    }
    notify_master /usr/bin/do-fip assign
    notify "/usr/bin/do-fip notify # not a comment"
    notify_backup '/usr/bin/do-fip notify BACKUP' \
        keepalived_script
}
`,
		"conf.d/b.conf": "vrrp_instance VI_B {\n}\n",
		"conf.d/a.conf": "vrrp_instance VI_A {\n    include ../sub/*.inc\n}\n",
		"sub/x.inc":     "priority 100\n",
	})
	c, err := ParseConf(filepath.Join(dir, "keepalived.conf"))
	if err != nil {
		t.Fatal(err)
	}
	want := `global_defs
  script_user keepalived_script
vrrp_script chk
  script "/usr/bin/do-fip reconcile --timeout 20s"
  interval 15
vrrp_instance VI_A
  priority 100
vrrp_instance VI_B
vrrp_instance VI_1
  unicast_peer
    10.10.0.12
  track_script
    chk weight 0
  notify_master /usr/bin/do-fip assign
  notify "/usr/bin/do-fip notify # not a comment"
  notify_backup "/usr/bin/do-fip notify BACKUP" keepalived_script
`
	if got := dump(c.Top, ""); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if len(c.Files) != 4 || len(c.Problems) != 0 {
		t.Errorf("files %v, problems %v", c.Files, c.Problems)
	}
	if s := c.Find("vrrp_instance")[2].First("notify_backup"); s.Line != 19 || !strings.HasSuffix(s.File, "keepalived.conf") {
		t.Errorf("a continued line is reported at its first line: %s", s.Where())
	}
}

func TestParseConfProblems(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"keepalived.conf": "include none/*.conf\nvrrp_instance VI_1 {\n    notify \"/usr/bin/do-fip notify\n",
		"loop.conf":       "include loop.conf\n",
	})
	c, err := ParseConf(filepath.Join(dir, "keepalived.conf"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(dir, "keepalived.conf") + ":1: include " + filepath.Join(dir, "none/*.conf") + " matches no file",
		filepath.Join(dir, "keepalived.conf") + ":3: unterminated quote",
		filepath.Join(dir, "keepalived.conf") + `:2: the block of "vrrp_instance" is never closed`,
	}
	if !reflect.DeepEqual(c.Problems, want) {
		t.Errorf("problems\n%q\nwant\n%q", c.Problems, want)
	}
	if _, err := ParseConf(filepath.Join(dir, "loop.conf")); err == nil || !strings.Contains(err.Error(), "include loop") {
		t.Errorf("an include loop: %v", err)
	}
	if _, err := ParseConf(filepath.Join(dir, "missing.conf")); !isNotExist(err) {
		t.Errorf("a missing file: %v", err)
	}
}

// The shipped examples are what the package installs: every keepalived.conf check passes on each of them,
// with the keepalived versions that support their wiring.
func TestShippedExamplesPassKeepalivedChecks(t *testing.T) {
	files, err := filepath.Glob("../examples/keepalived/*/*.conf")
	if err != nil || len(files) < 7 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		// Each example says which keepalived it is for (its second line): the per-state wiring for keepalived
		// before 2.0.6, the generic notify for later ones.
		versions := []Version{{2, 0, 19}, {2, 2, 7}, {2, 3, 3}}
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), "For keepalived 1.3.0 to 2.0.5.") {
			versions = []Version{{1, 3, 5}}
		}
		for _, v := range versions {
			r := &Report{}
			if m := r.checkKeepalivedConf(f, &v, nil); m == nil {
				t.Fatalf("%s: not parsed", f)
			}
			for _, x := range r.Results {
				if x.Status != OK {
					t.Errorf("%s, keepalived %s: %s %s: %s -- fix: %s", f, v, x.Status, x.Check, x.Saw, x.Fix)
				}
			}
		}
	}
}

func TestKeepalivedChecks(t *testing.T) {
	const head = "global_defs {\n script_user keepalived_script\n}\n"
	const inst = "vrrp_instance VI_1 {\n unicast_peer {\n 10.0.0.2\n }\n track_script {\n chk\n }\n"
	const chk = "vrrp_script chk {\n script \"/usr/bin/do-fip reconcile --timeout 20s\"\n interval 15\n timeout 25\n}\n"
	tests := map[string]struct {
		conf string
		ver  Version
		want string // "status check: saw -- fix: ..." of one result, with FILE for the file
	}{
		"notify_master with the per-state notify but no state": {
			conf: head + chk + inst + " notify_master \"/usr/bin/do-fip notify\"\n notify_master_rx_lower_pri \"/usr/bin/do-fip reconcile --now\"\n}\n",
			ver:  Version{2, 2, 7},
			want: `FAIL hook lines: FILE:16: notify_master "/usr/bin/do-fip notify": keepalived appends nothing to notify_master, so do-fip notify needs the state (MASTER) on the line -- fix: notify_master "/usr/bin/do-fip notify MASTER"`,
		},
		"generic notify running assign": {
			conf: head + chk + inst + " notify \"/usr/bin/do-fip assign --ip 203.0.113.10\"\n}\n",
			ver:  Version{2, 2, 7},
			want: `FAIL hook lines: FILE:16: notify "/usr/bin/do-fip assign --ip 203.0.113.10" runs do-fip assign, but notify needs do-fip notify -- fix: notify "/usr/bin/do-fip notify --ip 203.0.113.10"`,
		},
		"unquoted vrrp_script": {
			conf: head + "vrrp_script chk {\n script /usr/bin/do-fip reconcile\n}\n" + inst + " notify \"/usr/bin/do-fip notify\"\n}\n",
			ver:  Version{2, 2, 7},
			want: `FAIL hook lines: FILE:5: script /usr/bin/do-fip reconcile is not quoted: keepalived runs /usr/bin/do-fip without its arguments -- fix: script "/usr/bin/do-fip reconcile"`,
		},
		"untracked reconcile check": {
			conf: head + chk + "vrrp_instance VI_1 {\n unicast_peer {\n 10.0.0.2\n }\n notify \"/usr/bin/do-fip notify\"\n notify_master_rx_lower_pri \"/usr/bin/do-fip reconcile --now\"\n}\n",
			ver:  Version{2, 2, 7},
			want: `warn split brain VI_1: VI_1 does not track chk: keepalived never runs a vrrp_script no instance tracks -- fix: track_script { chk } in vrrp_instance VI_1`,
		},
		"no rx_lower_pri where keepalived has it": {
			conf: head + chk + inst + " notify \"/usr/bin/do-fip notify\"\n}\n",
			ver:  Version{2, 0, 19},
			want: `warn split brain VI_1: no notify_master_rx_lower_pri: after a split brain heals the IP may stay on the BACKUP until the periodic check runs -- fix: notify_master_rx_lower_pri "/usr/bin/do-fip reconcile --now" in vrrp_instance VI_1`,
		},
		"two instances, one without --ip": {
			conf: head + inst + " notify \"/usr/bin/do-fip notify --ip 203.0.113.10\"\n}\nvrrp_instance VI_2 {\n unicast_peer {\n 10.0.0.2\n }\n notify \"/usr/bin/do-fip notify\"\n}\n",
			ver:  Version{2, 2, 7},
			want: `FAIL several instances: FILE:17: notify "/usr/bin/do-fip notify" (in VI_2) names no IP: with 2 instances running do-fip, each would move every configured IP -- fix: notify "/usr/bin/do-fip notify --ip THIS_INSTANCE_IP"`,
		},
		"hooks on the sync group": {
			conf: head + chk + inst + "}\nvrrp_sync_group G {\n group { VI_1 }\n notify \"/usr/bin/do-fip notify\"\n notify_master \"/usr/bin/do-fip assign\"\n}\n",
			ver:  Version{2, 2, 7},
			want: `FAIL wiring VI_1: both notify (FILE:19) and notify_master (FILE:20) run do-fip: keepalived starts both at the same moment and the two runs race for the IP -- fix: delete FILE:20 (notify_master "/usr/bin/do-fip assign")`,
		},
		"reconcile check with a weight": {
			conf: head + "vrrp_script chk {\n script \"/usr/bin/do-fip reconcile --timeout 20s\"\n interval 15\n timeout 25\n weight 10\n}\n" + inst + " notify \"/usr/bin/do-fip notify\"\n notify_master_rx_lower_pri \"/usr/bin/do-fip reconcile --now\"\n}\n",
			ver:  Version{2, 2, 7},
			want: `warn split brain VI_1: chk has weight 10: reconcile always exits 0, so its weight only shifts priorities; weight 0 keeps them as configured -- fix: weight 0 in vrrp_script chk (and no weight on its track_script line)`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"k.conf": tc.conf})
			f := filepath.Join(dir, "k.conf")
			r := &Report{}
			r.checkKeepalivedConf(f, &tc.ver, nil)
			want := strings.ReplaceAll(tc.want, "FILE", f)
			var got []string
			for _, x := range r.Results {
				line := x.Status.String() + " " + x.Check + ": " + x.Saw
				if x.Fix != "" {
					line += " -- fix: " + x.Fix
				}
				if line == want {
					return
				}
				got = append(got, line)
			}
			t.Errorf("no result\n%s\nin\n%s", want, strings.Join(got, "\n"))
		})
	}
}

func TestParseVersion(t *testing.T) {
	for out, want := range map[string]Version{
		"Keepalived v2.2.7 (01/16,2022)\n\nCopyright(C) 2001-2022 Alexandre Cassen": {2, 2, 7},
		"Keepalived v1.3.5 (03/19,2017), git commit v1.3.5-6-g6fa32f2":              {1, 3, 5},
	} {
		if got, ok := ParseVersion([]byte(out)); !ok || got != want {
			t.Errorf("%q: %v %v", out, got, ok)
		}
	}
	if _, ok := ParseVersion([]byte("keepalived: command not found")); ok {
		t.Error("a version from nothing")
	}
	if !(Version{1, 3, 5}).Less(Version{2, 0, 6}) || (Version{2, 0, 6}).Less(Version{2, 0, 6}) {
		t.Error("Less")
	}
}

func TestKeepalivedVersionFromBinary(t *testing.T) {
	// The version string straddles the first 1 MiB chunk, as it may in a real binary.
	junk := strings.Repeat("\x00\x7f", (1<<20)/2-10)
	dir := writeFiles(t, map[string]string{"keepalived": "\x7fELF" + junk + "Keepalived v2.2.8 (05/31,2023)\x00" + junk})
	v, err := keepalivedVersion(filepath.Join(dir, "keepalived"))
	if err != nil || v != (Version{2, 2, 8}) {
		t.Fatalf("got %v, %v", v, err)
	}
	dir = writeFiles(t, map[string]string{"keepalived": "#!/bin/sh\necho hello\n"})
	if _, err := keepalivedVersion(filepath.Join(dir, "keepalived")); err == nil || !strings.Contains(err.Error(), "no \"Keepalived vX.Y.Z\" version string") {
		t.Fatalf("no version: %v", err)
	}
}

func TestParseProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000:0050":                         "0.0.0.0:80",
		"00000000000000000000000000000000:01BB": "[::]:443",
		"0000000000000000FFFF00000B00110A:0050": "10.17.0.11:80", // ::ffff:10.17.0.11, a v4-mapped listener
	} {
		l, ok := parseProcAddr(in)
		if !ok || l.String() != want {
			t.Errorf("%s: %v %v, want %s", in, l, ok, want)
		}
	}
}

func TestReadListenersFromProc(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"tcp": "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
			"   0: 0B00110A:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n" +
			"   1: 0100007F:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0\n" +
			"   2: 0B00110A:9C40 0C00110A:0050 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0\n",
	})
	r := &Report{}
	r.checkTraffic(dir, []int{80, 443}, "10.17.0.11", nil)
	want := []Result{
		{Status: OK, Check: "traffic :80", Saw: "listening on 10.17.0.11:80"},
		{Status: Warn, Check: "traffic :443", Saw: "port 443 listens only on 127.0.0.1:443, not on the anchor IP 10.17.0.11 or 0.0.0.0, where reserved-IP traffic arrives",
			Fix: "bind the service to 10.17.0.11:443 or 0.0.0.0:443 (HAProxy: bind 10.17.0.11:443)"},
	}
	if !reflect.DeepEqual(r.Results, want) {
		t.Errorf("got %+v\nwant %+v", r.Results, want)
	}
}
