package notify

import (
	"context"
	"net/netip"
	"testing"

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
			r := &run{a: &Assigner{DropletID: 1001, Watch: &md}, ip: tc.ip, t: Timing{}.withDefaults()}
			if got := r.heldPerMetadata(context.Background()); got != tc.held {
				t.Errorf("held = %v, want %v", got, tc.held)
			}
		})
	}
}
