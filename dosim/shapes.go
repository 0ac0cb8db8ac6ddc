package dosim

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net/netip"
	"time"
)

// The types below are the JSON DigitalOcean's API returns (github.com/digitalocean/openapi), trimmed to what a
// droplet and region carry in practice. Field order follows the spec's examples.

type regionJSON struct {
	Name      string   `json:"name"`
	Slug      string   `json:"slug"`
	Features  []string `json:"features"`
	Available bool     `json:"available"`
	Sizes     []string `json:"sizes"`
}

var regionNames = map[string]string{
	"ams3": "Amsterdam 3", "blr1": "Bangalore 1", "fra1": "Frankfurt 1", "lon1": "London 1",
	"nyc1": "New York 1", "nyc2": "New York 2", "nyc3": "New York 3", "sfo2": "San Francisco 2",
	"sfo3": "San Francisco 3", "sgp1": "Singapore 1", "syd1": "Sydney 1", "tor1": "Toronto 1",
	"atl1": "Atlanta 1", "ric1": "Richmond 1",
}

var sizeSlugs = []string{"s-1vcpu-1gb", "s-1vcpu-2gb", "s-2vcpu-2gb", "s-2vcpu-4gb", "s-4vcpu-8gb"}

func region(slug string) regionJSON {
	name := regionNames[slug]
	if name == "" {
		name = slug
	}
	return regionJSON{
		Name: name, Slug: slug, Available: true, Sizes: sizeSlugs,
		Features: []string{"private_networking", "backups", "ipv6", "metadata", "install_agent", "storage", "image_transfer"},
	}
}

type networkJSON struct {
	IPAddress string `json:"ip_address"`
	Netmask   any    `json:"netmask"` // text for IPv4, prefix length for IPv6
	Gateway   string `json:"gateway"`
	Type      string `json:"type"`
}

type imageJSON struct {
	ID           int      `json:"id"`
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Distribution string   `json:"distribution"`
	Slug         string   `json:"slug"`
	Public       bool     `json:"public"`
	Regions      []string `json:"regions"`
	CreatedAt    string   `json:"created_at"`
	MinDiskSize  int      `json:"min_disk_size"`
	SizeGigabyte float64  `json:"size_gigabytes"`
	Description  string   `json:"description"`
	Tags         []string `json:"tags"`
	Status       string   `json:"status"`
	ErrorMessage string   `json:"error_message"`
}

type sizeJSON struct {
	Slug         string   `json:"slug"`
	Memory       int      `json:"memory"`
	Vcpus        int      `json:"vcpus"`
	Disk         int      `json:"disk"`
	Transfer     float64  `json:"transfer"`
	PriceMonthly float64  `json:"price_monthly"`
	PriceHourly  float64  `json:"price_hourly"`
	Regions      []string `json:"regions"`
	Available    bool     `json:"available"`
	Description  string   `json:"description"`
}

type dropletJSON struct {
	ID               int                      `json:"id"`
	Name             string                   `json:"name"`
	Memory           int                      `json:"memory"`
	Vcpus            int                      `json:"vcpus"`
	Disk             int                      `json:"disk"`
	Locked           bool                     `json:"locked"`
	Status           string                   `json:"status"`
	Kernel           any                      `json:"kernel"`
	CreatedAt        string                   `json:"created_at"`
	Features         []string                 `json:"features"`
	BackupIDs        []int                    `json:"backup_ids"`
	NextBackupWindow any                      `json:"next_backup_window"`
	SnapshotIDs      []int                    `json:"snapshot_ids"`
	Image            imageJSON                `json:"image"`
	VolumeIDs        []string                 `json:"volume_ids"`
	Size             sizeJSON                 `json:"size"`
	SizeSlug         string                   `json:"size_slug"`
	Networks         map[string][]networkJSON `json:"networks"`
	Region           regionJSON               `json:"region"`
	Tags             []string                 `json:"tags"`
	VPCUUID          string                   `json:"vpc_uuid"`
}

// dropletObject renders a droplet; locked is true while it takes part in an action. Callers hold s.mu.
func (s *Sim) dropletObject(d *Droplet) *dropletJSON {
	nets := map[string][]networkJSON{"v4": {}, "v6": {}}
	if d.PrivateIPv4 != "" {
		nets["v4"] = append(nets["v4"], networkJSON{d.PrivateIPv4, "255.255.240.0", gateway4(d.PrivateIPv4, 20), "private"})
	}
	if d.PublicIPv4 != "" {
		nets["v4"] = append(nets["v4"], networkJSON{d.PublicIPv4, "255.255.255.0", gateway4(d.PublicIPv4, 24), "public"})
	}
	if d.PublicIPv6 != "" {
		nets["v6"] = append(nets["v6"], networkJSON{d.PublicIPv6, 64, gateway6(d.PublicIPv6), "public"})
	}
	regions := []string{d.Region}
	return &dropletJSON{
		ID: d.ID, Name: d.Name, Memory: 1024, Vcpus: 1, Disk: 25, Locked: s.pendingForDroplet(d.ID),
		Status: "active", CreatedAt: s.started.Add(-24 * time.Hour).Format(time.RFC3339),
		Features: []string{"private_networking", "ipv6"}, BackupIDs: []int{}, SnapshotIDs: []int{},
		Image: imageJSON{ID: 164200000, Name: "24.04 (LTS) x64", Type: "base", Distribution: "Ubuntu",
			Slug: "ubuntu-24-04-x64", Public: true, Regions: regions, CreatedAt: "2024-04-25T00:00:00Z",
			MinDiskSize: 7, SizeGigabyte: 2.5, Tags: []string{}, Status: "available"},
		VolumeIDs: []string{},
		Size: sizeJSON{Slug: "s-1vcpu-1gb", Memory: 1024, Vcpus: 1, Disk: 25, Transfer: 1, PriceMonthly: 6,
			PriceHourly: 0.00893, Regions: regions, Available: true, Description: "Basic"},
		SizeSlug: "s-1vcpu-1gb", Networks: nets, Region: region(d.Region), Tags: []string{},
		VPCUUID: fmt.Sprintf("5d0c1a4e-7f1b-4c3e-9b8a-%012d", d.ID%1e12),
	}
}

// gateway4 is the first address of the prefix, the gateway DigitalOcean hands out.
func gateway4(addr string, bits int) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is4() {
		return ""
	}
	p, _ := a.Prefix(bits)
	return p.Addr().Next().String()
}

func gateway6(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is6() {
		return ""
	}
	p, _ := a.Prefix(64)
	return p.Addr().Next().String()
}

type reservedIPJSON struct {
	IP        string       `json:"ip"`
	Droplet   *dropletJSON `json:"droplet"`
	Region    regionJSON   `json:"region"`
	Locked    bool         `json:"locked"`
	ProjectID string       `json:"project_id"`
}

type reservedIPv6JSON struct {
	IP         string       `json:"ip"`
	RegionSlug string       `json:"region_slug"`
	ReservedAt string       `json:"reserved_at"`
	Droplet    *dropletJSON `json:"droplet"`
}

// Callers hold s.mu and have settled.
func (s *Sim) reservedIPObject(ip *ipState) reservedIPJSON {
	o := reservedIPJSON{IP: ip.IP, Region: region(ip.Region), Locked: s.pendingForIP(ip.IP) != nil, ProjectID: ip.ProjectID}
	if d := s.droplets[ip.DropletID]; d != nil {
		o.Droplet = s.dropletObject(d)
	}
	return o
}

func (s *Sim) reservedIPv6Object(ip *ipState) reservedIPv6JSON {
	o := reservedIPv6JSON{IP: ip.IP, RegionSlug: ip.Region, ReservedAt: ip.created.Format(time.RFC3339)}
	if d := s.droplets[ip.DropletID]; d != nil {
		o.Droplet = s.dropletObject(d)
	}
	return o
}

type actionJSON struct {
	ID           int         `json:"id"`
	Status       string      `json:"status"`
	Type         string      `json:"type"`
	StartedAt    string      `json:"started_at"`
	CompletedAt  *string     `json:"completed_at"`
	ResourceID   int64       `json:"resource_id"`
	ResourceType string      `json:"resource_type"`
	Region       *regionJSON `json:"region"`
	RegionSlug   string      `json:"region_slug"`
}

func actionObject(a *action) actionJSON {
	o := actionJSON{
		ID: a.id, Status: a.status, Type: a.typ, StartedAt: a.started.UTC().Format(time.RFC3339),
		ResourceID: resourceID(a.ip), ResourceType: a.resourceType, RegionSlug: a.region,
	}
	if a.status != StatusInProgress {
		c := a.completed.UTC().Format(time.RFC3339)
		o.CompletedAt = &c
	}
	// The spec's IPv6 action example carries region null and only region_slug.
	if !a.v6 {
		r := region(a.region)
		o.Region = &r
	}
	return o
}

// resourceID is the IPv4 address as an integer, which is what DigitalOcean reports for reserved IPv4 actions.
// For IPv6 DigitalOcean reports an internal integer; the simulator uses a stable 31-bit hash of the address.
func resourceID(ip string) int64 {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return 0
	}
	if a.Is4() {
		b := a.As4()
		return int64(binary.BigEndian.Uint32(b[:]))
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(a.String()))
	return int64(h.Sum32() & 0x7fffffff)
}

type accountJSON struct {
	DropletLimit    int    `json:"droplet_limit"`
	FloatingIPLimit int    `json:"floating_ip_limit"`
	ReservedIPLimit int    `json:"reserved_ip_limit"`
	VolumeLimit     int    `json:"volume_limit"`
	Email           string `json:"email"`
	Name            string `json:"name"`
	UUID            string `json:"uuid"`
	EmailVerified   bool   `json:"email_verified"`
	Status          string `json:"status"`
	StatusMessage   string `json:"status_message"`
	Team            struct {
		UUID string `json:"uuid"`
		Name string `json:"name"`
	} `json:"team"`
}

type linksJSON struct {
	Pages map[string]string `json:"pages,omitempty"`
}

type metaJSON struct {
	Total int `json:"total"`
}

type errorJSON struct {
	ID        string `json:"id"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}
