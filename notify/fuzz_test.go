package notify

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseKeepalivedArgs feeds keepalived notify arguments: n (0 to 5) of the four words. Whatever they are,
// the parser answers an event keepalived could send or an ErrBadEvent on one bounded, printable line.
func FuzzParseKeepalivedArgs(f *testing.F) {
	f.Add(uint8(4), "INSTANCE", "VI_1", "MASTER", "200")
	f.Add(uint8(3), "GROUP", "G1", "BACKUP", "")
	f.Add(uint8(1), "FAULT", "", "", "")
	f.Add(uint8(4), "INSTANCE", "VI\n1", "MASTER", "-1")
	f.Add(uint8(5), "INSTANCE", "VI_1", "MASTER", "256")
	f.Add(uint8(4), "INSTANCE", strings.Repeat("é", 30), "STOP", "0")
	f.Fuzz(func(t *testing.T, n uint8, a, b, c, d string) {
		words := []string{a, b, c, d, d}[:n%6]
		ev, err := ParseKeepalivedArgs(words)
		if err != nil {
			if !errors.Is(err, ErrBadEvent) {
				t.Fatalf("error %v is not ErrBadEvent", err)
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r\x00") || !utf8.ValidString(msg) || len(msg) > 300 {
				t.Fatalf("error is not one bounded printable line: %q", msg)
			}
			return
		}
		if !states[ev.State] {
			t.Fatalf("accepted state %q", ev.State)
		}
		if ev.Priority < -1 || ev.Priority > 255 {
			t.Fatalf("accepted priority %d", ev.Priority)
		}
		switch len(words) {
		case 1:
			if ev.Kind != "" || ev.Name != "" || ev.Priority != -1 {
				t.Fatalf("short form gave %+v", ev)
			}
		case 3, 4:
			if ev.Kind != "INSTANCE" && ev.Kind != "GROUP" {
				t.Fatalf("accepted kind %q", ev.Kind)
			}
			if ev.Name == "" || len(ev.Name) > 128 || strings.ContainsAny(ev.Name, "\x00\n") {
				t.Fatalf("accepted name %q", ev.Name)
			}
		default:
			t.Fatalf("accepted %d words", len(words))
		}
	})
}
