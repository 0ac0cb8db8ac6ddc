package engine

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/do-fip/do-fip/doapi"

	"github.com/do-fip/do-fip/metadata"
)

type fixedMetadata metadata.Metadata

func (m *fixedMetadata) Get(context.Context) (*metadata.Metadata, error) {
	md := metadata.Metadata(*m)
	return &md, nil
}

// The metadata fast path counts a move as landed only when the field of the IP's own family names the IP: an
// IPv6 address in the ipv4 field (or the reverse), another IP, or an inactive entry is not this IP here.
func TestMetadataFastPathMatchesTheFamily(t *testing.T) {
	v4, v6 := netip.MustParseAddr("203.0.113.10"), netip.MustParseAddr("2001:db8:10::10")
	tests := []struct {
		name string
		ip   netip.Addr
		md   metadata.Metadata
		held bool
	}{
		{"IPv4 in the ipv4 field", v4, metadata.Metadata{DropletID: 1001, ReservedIPv4: metadata.ReservedIP{Active: true, IP: "203.0.113.10"}}, true},
		{"IPv6 in the ipv6 field", v6, metadata.Metadata{DropletID: 1001, ReservedIPv6: metadata.ReservedIP{Active: true, IP: "2001:db8:10::10"}}, true},
		{"IPv6 in the ipv4 field", v4, metadata.Metadata{DropletID: 1001, ReservedIPv4: metadata.ReservedIP{Active: true, IP: "2001:db8:10::10"}}, false},
		{"IPv4 in the ipv6 field", v6, metadata.Metadata{DropletID: 1001, ReservedIPv6: metadata.ReservedIP{Active: true, IP: "203.0.113.10"}}, false},
		{"the IPv4 asked for in the ipv6 field only", v4, metadata.Metadata{DropletID: 1001, ReservedIPv6: metadata.ReservedIP{Active: true, IP: "203.0.113.10"}}, false},
		{"another IPv4", v4, metadata.Metadata{DropletID: 1001, ReservedIPv4: metadata.ReservedIP{Active: true, IP: "203.0.113.11"}}, false},
		{"inactive", v4, metadata.Metadata{DropletID: 1001, ReservedIPv4: metadata.ReservedIP{Active: false, IP: "203.0.113.10"}}, false},
		{"another droplet's metadata", v4, metadata.Metadata{DropletID: 1002, ReservedIPv4: metadata.ReservedIP{Active: true, IP: "203.0.113.10"}}, false},
		{"garbage address", v4, metadata.Metadata{DropletID: 1001, ReservedIPv4: metadata.ReservedIP{Active: true, IP: "203.0.113.10\n"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			md := fixedMetadata(tc.md)
			r := &run{e: &Engine{DropletID: 1001, Watch: &md}, ip: tc.ip, t: Timing{}.withDefaults()}
			if seen, _ := r.watch(context.Background()); (seen == Here) != tc.held {
				t.Errorf("held = %v, want %v", seen == Here, tc.held)
			}
			if got := SeenIn(&tc.md, 1001, tc.ip) == Here; got != tc.held {
				t.Errorf("SeenIn: held = %v, want %v", got, tc.held)
			}
		})
	}
}

func TestSeenInWithoutAnswer(t *testing.T) {
	if got := SeenIn(nil, 1001, netip.MustParseAddr("203.0.113.10")); got != Unknown {
		t.Fatalf("no metadata: %v, want Unknown", got)
	}
	md := &metadata.Metadata{DropletID: 1002}
	if got := SeenIn(md, 1001, netip.MustParseAddr("203.0.113.10")); got != Unknown {
		t.Fatalf("another droplet's metadata: %v, want Unknown", got)
	}
	md.DropletID = 1001
	if got := SeenIn(md, 1001, netip.MustParseAddr("203.0.113.10")); got != Elsewhere {
		t.Fatalf("no reserved IP: %v, want Elsewhere", got)
	}
}

func TestBegin(t *testing.T) {
	for seen, want := range map[Seen]Step{Unknown: Post, Elsewhere: Post, Here: Read} {
		if got := Begin(seen).Step; got != want {
			t.Errorf("Begin(%v) = %v, want %v", seen, got, want)
		}
	}
}

func apiErr(status int, msg string) error {
	kinds := map[int]doapi.Kind{401: doapi.KindUnauthorized, 403: doapi.KindForbidden, 404: doapi.KindNotFound,
		429: doapi.KindRateLimited, 500: doapi.KindServer}
	k, ok := kinds[status]
	if status == 422 {
		k, ok = doapi.KindUnprocessable, true
		if strings.Contains(msg, "pending event") {
			k = doapi.KindPendingEvent
		}
	}
	if !ok {
		k = doapi.KindOther
	}
	return &doapi.APIError{Op: "assign 203.0.113.10 to droplet 1001", Status: status, Kind: k, Message: msg}
}

func TestAfterPost(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Step
		is   error // with Fail: the error must match
	}{
		{"accepted", nil, Follow, nil},
		{"IP has a pending event", apiErr(422, "The reserved IP already has a pending event."), Wait, nil},
		{"droplet has a pending event", apiErr(422, "Droplet already has a pending event"), Wait, nil},
		{"already assigned to this droplet: read to tell", apiErr(422, "The reserved IP is already assigned to that Droplet."), Read, nil},
		{"region mismatch: read to tell", apiErr(422, "The Droplet and the reserved IP must be in the same region."), Read, nil},
		{"unauthorized", apiErr(401, "Unable to authenticate you."), Fail, doapi.ErrUnauthorized},
		{"forbidden", apiErr(403, "You do not have access for the attempted action."), Fail, doapi.ErrForbidden},
		{"not found (after the legacy endpoint)", apiErr(404, "The resource you requested could not be found."), Fail, ErrRefused},
		{"rate limited past the deadline", apiErr(429, "API rate limit exceeded."), Fail, doapi.ErrRateLimited},
		{"server error: outcome unknown", apiErr(500, "Server was unable to give you a response."), Wait, nil},
		{"connection lost: outcome unknown", errors.New("assign: EOF"), Wait, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := AfterPost(tc.err)
			if d.Step != tc.want {
				t.Fatalf("step %v, want %v", d.Step, tc.want)
			}
			if tc.is != nil && !errors.Is(d.Err, tc.is) {
				t.Fatalf("err %v, want %v", d.Err, tc.is)
			}
		})
	}
}

func TestAfterRead(t *testing.T) {
	refusal := apiErr(422, "The Droplet already has a reserved IP assigned.")
	ip := func(holder int, locked bool, region string) *doapi.IP {
		return &doapi.IP{Addr: netip.MustParseAddr("203.0.113.10"), DropletID: holder, Locked: locked, Region: region}
	}
	tests := []struct {
		name string
		info *doapi.IP
		why  ReadFor
		want Step
		is   error
	}{
		{"confirm: here", ip(1001, false, "nyc3"), ToConfirm, Done, nil},
		{"confirm: metadata lags a move away", ip(1002, false, "nyc3"), ToConfirm, Post, nil},
		{"confirm: unassigned", ip(0, false, "nyc3"), ToConfirm, Post, nil},
		{"confirm: here but a move away is pending", ip(1001, true, "nyc3"), ToConfirm, Wait, nil},
		{"after 422: here after all", ip(1001, false, "nyc3"), After422, Done, nil},
		{"after 422: elsewhere is a refusal", ip(1002, false, "nyc3"), After422, Fail, ErrRefused},
		{"after 422: a move is pending", ip(1002, true, "nyc3"), After422, Wait, nil},
		{"verify: here", ip(1001, false, "nyc3"), ToVerify, Done, nil},
		{"verify: another move overtook ours", ip(1002, false, "nyc3"), ToVerify, Post, nil},
		{"another region", ip(1002, false, "ams3"), ToConfirm, Fail, ErrRefused},
		{"region unknown to the API answer", ip(1002, false, ""), ToConfirm, Post, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := AfterRead(tc.info, 1001, "nyc3", tc.why, refusal)
			if d.Step != tc.want {
				t.Fatalf("step %v, want %v", d.Step, tc.want)
			}
			if tc.is != nil && !errors.Is(d.Err, tc.is) {
				t.Fatalf("err %v, want %v", d.Err, tc.is)
			}
		})
	}
	if d := AfterRead(ip(1002, false, "nyc3"), 1001, "nyc3", After422, refusal); !strings.Contains(d.Err.Error(), "already has a reserved IP") {
		t.Errorf("refusal %v does not carry DigitalOcean's message", d.Err)
	}
}

func TestAfterActionRead(t *testing.T) {
	tests := []struct {
		name   string
		status string
		err    error
		want   Step
	}{
		{"in progress", "in-progress", nil, Follow},
		{"completed: read the holder", "completed", nil, Read},
		{"errored: post again", "errored", nil, Wait},
		// Right after an assign the action can 404 (terraform-provider-digitalocean#1557), and an IPv6 action
		// only exists at /v2/actions/{id}: neither is an errored move.
		{"404 right after the POST", "", apiErr(404, "The resource you requested could not be found."), Follow},
		{"429 on the read", "", apiErr(429, "API rate limit exceeded."), Follow},
		{"5xx on the read", "", apiErr(500, ""), Follow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if d := AfterActionRead(tc.status, tc.err); d.Step != tc.want {
				t.Fatalf("step %v, want %v", d.Step, tc.want)
			}
		})
	}
}
