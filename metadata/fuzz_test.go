package metadata

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzMetadataAnswer answers every metadata request with a fuzzed status and body. The client returns a droplet
// ID it can stand on (positive) or an ErrUnavailable on one bounded line naming the path.
func FuzzMetadataAnswer(f *testing.F) {
	f.Add(uint16(200), []byte(v1JSON))
	f.Add(uint16(200), []byte("1001\n"))
	f.Add(uint16(200), []byte(`{"droplet_id":0}`))
	f.Add(uint16(200), []byte(`{"droplet_id":-3,"hostname":"x"}`))
	f.Add(uint16(200), []byte(`{"droplet_id":1e3}`))
	f.Add(uint16(200), []byte("<!DOCTYPE html>\x00\x01garbage"))
	f.Add(uint16(404), []byte("404 page not found\n"))
	f.Add(uint16(503), []byte(strings.Repeat("x\n", 300)))
	f.Add(uint16(200), []byte("99999999999999999999"))

	var (
		mu     sync.Mutex
		status int
		body   []byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	c := NewClient(WithBaseURL(srv.URL), WithAttempts(1))

	f.Fuzz(func(t *testing.T, st uint16, b []byte) {
		mu.Lock()
		status, body = 200+int(st)%400, b
		mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		check := func(path string, err error) {
			t.Helper()
			msg := err.Error()
			if !errors.Is(err, ErrUnavailable) || !strings.HasPrefix(msg, "metadata GET "+path+": ") {
				t.Fatalf("error %q is not an ErrUnavailable naming %s", msg, path)
			}
			if strings.ContainsAny(msg, "\n\r") || len(msg) > 600 {
				t.Fatalf("error is not one bounded line: %q", msg)
			}
		}
		if md, err := c.Get(ctx); err != nil {
			check("/metadata/v1.json", err)
		} else if md.DropletID <= 0 {
			t.Fatalf("droplet ID %d accepted", md.DropletID)
		}
		if id, err := c.DropletID(ctx); err != nil {
			check("/metadata/v1/id", err)
		} else if id <= 0 {
			t.Fatalf("droplet ID %d accepted", id)
		}
	})
}
