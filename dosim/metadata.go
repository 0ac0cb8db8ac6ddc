package dosim

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// mdNode is one entry of the metadata tree: a text value or a directory of named children.
type mdNode struct {
	value    string
	children []mdChild // nil for a value
}

type mdChild struct {
	name string
	node *mdNode
}

func leaf(v string) *mdNode { return &mdNode{value: v} }

func dir(kids ...mdChild) *mdNode {
	if kids == nil {
		kids = []mdChild{}
	}
	return &mdNode{children: kids}
}

func kid(name string, n *mdNode) mdChild { return mdChild{name, n} }

func (n *mdNode) isDir() bool { return n.children != nil }

// index lists a directory the way the metadata service does: one name per line, directories with a slash.
func (n *mdNode) index() string {
	var b strings.Builder
	for i, c := range n.children {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(c.name)
		if c.node.isDir() {
			b.WriteByte('/')
		}
	}
	return b.String()
}

func (n *mdNode) child(name string) *mdNode {
	for _, c := range n.children {
		if c.name == name {
			return c.node
		}
	}
	return nil
}

// mdView is what the metadata service knows about one droplet. Reserved-IP state is what completed actions
// left, since the metadata service reflects the network, not pending API actions.
type mdView struct {
	d      Droplet
	fipV4  string
	fipV6  string
	dnsSrv []string
}

// Callers hold s.mu and have settled.
func (s *Sim) mdView(d *Droplet) mdView {
	v := mdView{d: *d, dnsSrv: []string{"67.207.67.2", "67.207.67.3"}}
	seen := s.clock().Add(-s.world.MetadataLag)
	for _, k := range s.ipOrder {
		ip := s.ips[k]
		if ip.holderAt(seen) != d.ID {
			continue
		}
		if ip.v6 {
			v.fipV6 = ip.IP
		} else {
			v.fipV4 = ip.IP
		}
	}
	return v
}

func mac(id int, iface byte) string {
	return "02:00:" + hex2(byte(iface)) + ":" + hex2(byte(id>>16)) + ":" + hex2(byte(id>>8)) + ":" + hex2(byte(id))
}

func hex2(b byte) string {
	const h = "0123456789abcdef"
	return string([]byte{h[b>>4], h[b&15]})
}

func activeLeaves(ip string) *mdNode {
	if ip == "" {
		return dir(kid("active", leaf("false")))
	}
	return dir(kid("active", leaf("true")), kid("ip_address", leaf(ip)))
}

func (v mdView) tree() *mdNode {
	d := v.d
	pub0 := dir(kid("mac", leaf(mac(d.ID, 0))), kid("type", leaf("public")))
	if d.PublicIPv4 != "" {
		pub0.children = append(pub0.children, kid("ipv4", dir(kid("address", leaf(d.PublicIPv4)),
			kid("netmask", leaf("255.255.255.0")), kid("gateway", leaf(gateway4(d.PublicIPv4, 24))))))
	}
	if d.PublicIPv6 != "" {
		pub0.children = append(pub0.children, kid("ipv6", dir(kid("address", leaf(strings.ToUpper(expand6(d.PublicIPv6)))),
			kid("cidr", leaf("64")), kid("gateway", leaf(strings.ToUpper(expand6(gateway6(d.PublicIPv6))))))))
	}
	if d.AnchorIPv4 != "" {
		pub0.children = append(pub0.children, kid("anchor_ipv4", dir(kid("address", leaf(d.AnchorIPv4)),
			kid("netmask", leaf("255.255.0.0")), kid("gateway", leaf(gateway4(d.AnchorIPv4, 16))))))
	}
	ifaces := dir(kid("public", dir(kid("0", pub0))))
	if d.PrivateIPv4 != "" {
		priv0 := dir(kid("mac", leaf(mac(d.ID, 1))), kid("type", leaf("private")),
			kid("ipv4", dir(kid("address", leaf(d.PrivateIPv4)), kid("netmask", leaf("255.255.240.0")),
				kid("gateway", leaf("0.0.0.0")))))
		ifaces.children = append(ifaces.children, kid("private", dir(kid("0", priv0))))
	}
	return dir(
		kid("id", leaf(strconv.Itoa(d.ID))),
		kid("hostname", leaf(d.Name)),
		kid("public-keys", leaf("")),
		kid("region", leaf(d.Region)),
		kid("interfaces", ifaces),
		kid("dns", dir(kid("nameservers", leaf(strings.Join(v.dnsSrv, "\n"))))),
		kid("floating_ip", dir(kid("ipv4", activeLeaves(v.fipV4)))),
		kid("reserved_ip", dir(kid("ipv4", activeLeaves(v.fipV4)), kid("ipv6", activeLeaves(v.fipV6)))),
		kid("tags", dir()),
		kid("features", dir(kid("dhcp_enabled", leaf("true")))),
	)
}

// expand6 writes an IPv6 address in full, which is how the metadata service's interface values look.
func expand6(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	return a.StringExpanded()
}

type mdAddr struct {
	IPAddress string `json:"ip_address"`
	Netmask   string `json:"netmask,omitempty"`
	CIDR      int    `json:"cidr,omitempty"`
	Gateway   string `json:"gateway"`
}

type mdInterface struct {
	IPv4       *mdAddr `json:"ipv4,omitempty"`
	IPv6       *mdAddr `json:"ipv6,omitempty"`
	AnchorIPv4 *mdAddr `json:"anchor_ipv4,omitempty"`
	MAC        string  `json:"mac"`
	Type       string  `json:"type"`
}

type mdActive struct {
	IPAddress string `json:"ip_address,omitempty"`
	Active    bool   `json:"active"`
}

type mdJSON struct {
	DropletID  int                      `json:"droplet_id"`
	Hostname   string                   `json:"hostname"`
	VendorData string                   `json:"vendor_data"`
	PublicKeys []string                 `json:"public_keys"`
	AuthKey    string                   `json:"auth_key"`
	Region     string                   `json:"region"`
	Interfaces map[string][]mdInterface `json:"interfaces"`
	FloatingIP struct {
		IPv4 mdActive `json:"ipv4"`
	} `json:"floating_ip"`
	ReservedIP struct {
		IPv4 mdActive `json:"ipv4"`
		IPv6 mdActive `json:"ipv6"`
	} `json:"reserved_ip"`
	DNS struct {
		Nameservers []string `json:"nameservers"`
	} `json:"dns"`
	Tags     []string        `json:"tags"`
	Features map[string]bool `json:"features"`
}

func (v mdView) json() mdJSON {
	d := v.d
	var m mdJSON
	m.DropletID, m.Hostname, m.Region = d.ID, d.Name, d.Region
	m.PublicKeys, m.Tags = []string{}, []string{}
	m.Features = map[string]bool{"dhcp_enabled": true}
	m.DNS.Nameservers = v.dnsSrv
	pub := mdInterface{MAC: mac(d.ID, 0), Type: "public"}
	if d.PublicIPv4 != "" {
		pub.IPv4 = &mdAddr{IPAddress: d.PublicIPv4, Netmask: "255.255.255.0", Gateway: gateway4(d.PublicIPv4, 24)}
	}
	if d.PublicIPv6 != "" {
		pub.IPv6 = &mdAddr{IPAddress: strings.ToUpper(expand6(d.PublicIPv6)), CIDR: 64,
			Gateway: strings.ToUpper(expand6(gateway6(d.PublicIPv6)))}
	}
	if d.AnchorIPv4 != "" {
		pub.AnchorIPv4 = &mdAddr{IPAddress: d.AnchorIPv4, Netmask: "255.255.0.0", Gateway: gateway4(d.AnchorIPv4, 16)}
	}
	m.Interfaces = map[string][]mdInterface{"public": {pub}}
	if d.PrivateIPv4 != "" {
		m.Interfaces["private"] = []mdInterface{{MAC: mac(d.ID, 1), Type: "private",
			IPv4: &mdAddr{IPAddress: d.PrivateIPv4, Netmask: "255.255.240.0", Gateway: "0.0.0.0"}}}
	}
	m.FloatingIP.IPv4 = mdActive{IPAddress: v.fipV4, Active: v.fipV4 != ""}
	m.ReservedIP.IPv4 = m.FloatingIP.IPv4
	m.ReservedIP.IPv6 = mdActive{IPAddress: v.fipV6, Active: v.fipV6 != ""}
	return m
}

// dropletBySource finds the droplet a request's source address belongs to. Callers hold s.mu.
func (s *Sim) dropletBySource(remote string) *Droplet {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	src, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}
	src = src.Unmap()
	for _, id := range s.sortedDropletIDs() {
		d := s.droplets[id]
		for _, a := range append([]string{d.PublicIPv4, d.AnchorIPv4, d.PrivateIPv4, d.PublicIPv6}, d.SourceAddrs...) {
			if p, err := netip.ParseAddr(a); err == nil && p.Unmap() == src {
				return d
			}
		}
	}
	return nil
}

// serveMetadata answers /metadata/v1/... for the droplet the source address names, and
// /droplets/{id}/metadata/v1/... for droplet {id} (for clients on loopback).
func (s *Sim) serveMetadata(w http.ResponseWriter, r *http.Request, _ []byte, _ string) served {
	path := r.URL.Path
	prefix := ""
	s.mu.Lock()
	s.settle()
	var d *Droplet
	if strings.HasPrefix(path, "/droplets/") {
		rest := strings.TrimPrefix(path, "/droplets/")
		idText, tail, _ := strings.Cut(rest, "/")
		if id, err := strconv.Atoi(idText); err == nil {
			d = s.droplets[id]
		}
		prefix = "/droplets/" + idText
		path = "/" + tail
	} else {
		d = s.dropletBySource(r.RemoteAddr)
	}
	var view mdView
	if d != nil {
		view = s.mdView(d)
	}
	s.mu.Unlock()

	if d == nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		mdNotFound(w)
		return served{}
	}
	if path == "/metadata/v1.json" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_ = json.NewEncoder(w).Encode(view.json())
		return served{}
	}
	rest, ok := strings.CutPrefix(path, "/metadata/v1")
	if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
		mdNotFound(w)
		return served{}
	}
	trailing := strings.HasSuffix(rest, "/")
	node := view.tree()
	for _, part := range strings.Split(strings.Trim(rest, "/"), "/") {
		if part == "" {
			continue
		}
		if !node.isDir() {
			node = nil
			break
		}
		if node = node.child(part); node == nil {
			break
		}
	}
	switch {
	case node == nil || (trailing && !node.isDir()):
		mdNotFound(w)
	case node.isDir() && !trailing:
		// Index paths need their trailing slash; the service redirects, as DigitalOcean documents.
		w.Header().Set("Location", prefix+path+"/")
		w.WriteHeader(http.StatusMovedPermanently)
	case node.isDir():
		mdText(w, node.index())
	default:
		mdText(w, node.value)
	}
	return served{}
}

func mdText(w http.ResponseWriter, v string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, v)
}

func mdNotFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, "404 page not found\n")
}
