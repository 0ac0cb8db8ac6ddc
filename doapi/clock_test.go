package doapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestClockSkewFromDate(t *testing.T) {
	ahead := 90 * time.Second // the API's clock runs 90 s ahead of this host's
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", time.Now().Add(ahead).UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"reserved_ip":{"ip":"203.0.113.10","region":{"slug":"nyc3"},"droplet":null,"locked":false}}`))
	}))
	defer srv.Close()
	c, err := New(Options{Token: "t", BaseURL: srv.URL, AllowInsecure: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.ClockSkew(); ok {
		t.Fatal("a clock skew before any answer")
	}
	if _, err := c.GetIP(context.Background(), netip.MustParseAddr("203.0.113.10")); err != nil {
		t.Fatal(err)
	}
	skew, ok := c.ClockSkew()
	if !ok || skew > -ahead+time.Second || skew < -ahead-time.Second {
		t.Fatalf("skew %s (ok %v), want about -%s", skew, ok, ahead)
	}
}
