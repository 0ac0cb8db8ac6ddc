package preflight

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// listener is a listening TCP socket.
type listener struct {
	addr netip.Addr
	port int
}

func (l listener) String() string { return netip.AddrPortFrom(l.addr, uint16(l.port)).String() }

// readListeners reads the listening TCP sockets of this network namespace from /proc/net/tcp and tcp6
// (dir is /proc/net). It opens no connection.
func readListeners(dir string) ([]listener, error) {
	var out []listener
	found := false
	for _, name := range []string{"tcp", "tcp6"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		found = true
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "0A" { // 0A: TCP_LISTEN
				continue
			}
			if l, ok := parseProcAddr(fields[1]); ok {
				out = append(out, l)
			}
		}
		f.Close()
	}
	if !found {
		return nil, fmt.Errorf("cannot read %s/tcp or tcp6", dir)
	}
	return out, nil
}

// parseProcAddr reads "0100007F:1F90" (IPv4) or a 32-digit IPv6 address and a port, in /proc/net's notation:
// each 32-bit word of the address in host (little-endian) byte order, the port in hex.
func parseProcAddr(s string) (listener, bool) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return listener{}, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return listener{}, false
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return listener{}, false
	}
	for i := 0; i+4 <= len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	addr, _ := netip.AddrFromSlice(raw)
	return listener{addr: addr.Unmap(), port: int(port)}, true
}

// ParsePorts reads "80,443" into port numbers.
func ParsePorts(s []string) ([]int, error) {
	var out []int
	for _, v := range s {
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 || n > 65535 {
				return nil, fmt.Errorf("%q is not a TCP port (1-65535)", f)
			}
			out = append(out, n)
		}
	}
	return out, nil
}

// checkTraffic warns when nothing listens where reserved-IP traffic arrives: the anchor IP (IPv4) or the
// reserved IPv6 itself, or every address.
func (r *Report) checkTraffic(procNet string, ports []int, anchor string, v6 []netip.Addr) {
	if len(ports) == 0 {
		return
	}
	ls, err := readListeners(procNet)
	if err != nil {
		r.warn("traffic", "", "%v", err)
		return
	}
	anchorIP, _ := netip.ParseAddr(anchor)
	for _, port := range ports {
		name := fmt.Sprintf("traffic :%d", port)
		var here []string
		any4, any6, onAnchor := false, false, false
		on6 := map[netip.Addr]bool{}
		for _, l := range ls {
			if l.port != port {
				continue
			}
			here = append(here, l.String())
			switch {
			case l.addr == netip.IPv4Unspecified():
				any4 = true
			case l.addr == netip.IPv6Unspecified():
				any4, any6 = true, true // a dual-stack [::] socket takes IPv4 too (net.ipv6.bindv6only=0, the default)
			case anchorIP.IsValid() && l.addr == anchorIP:
				onAnchor = true
			default:
				on6[l.addr] = true
			}
		}
		var missing []string
		if !any4 && !onAnchor {
			if anchorIP.IsValid() {
				missing = append(missing, fmt.Sprintf("on the anchor IP %s or 0.0.0.0", anchorIP))
			} else {
				missing = append(missing, "on 0.0.0.0")
			}
		}
		for _, ip := range v6 {
			if !any6 && !on6[ip] {
				missing = append(missing, fmt.Sprintf("on the reserved IPv6 %s or [::]", ip))
			}
		}
		if len(missing) > 0 {
			saw := "nothing listens on port " + strconv.Itoa(port)
			if len(here) > 0 {
				saw = "port " + strconv.Itoa(port) + " listens only on " + strings.Join(here, ", ")
			}
			bind, fix := "0.0.0.0", ""
			if anchorIP.IsValid() {
				bind = anchorIP.String()
				fix = fmt.Sprintf(" or 0.0.0.0:%d", port)
			}
			r.warn(name, fmt.Sprintf("bind the service to %s:%d%s (HAProxy: bind %s:%d)", bind, port, fix, bind, port),
				"%s, not %s, where reserved-IP traffic arrives", saw, strings.Join(missing, ", nor "))
			continue
		}
		r.ok(name, "listening on %s", strings.Join(here, ", "))
	}
}
