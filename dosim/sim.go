package dosim

import (
	"crypto/rand"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Sim is a running simulated account. All methods are safe for concurrent use.
type Sim struct {
	mu  sync.Mutex
	now func() time.Time // replaced by tests that need a clock they control
	// offset is how far the simulated DigitalOcean's clock runs ahead of now (behind when negative); read
	// without s.mu because the request log reads the clock outside it.
	offset atomic.Int64
	world  World // as given to New; droplets and tokens do not change

	droplets map[int]*Droplet
	ips      map[string]*ipState // key: canonical address text
	ipOrder  []string
	tokens   map[string]scope
	scoped   map[string]map[string]bool // custom-scoped tokens: token → scopes
	latency  time.Duration
	started  time.Time

	nextAction int
	actions    map[int]*action
	actOrder   []int

	faults       []*faultState
	actionFaults []*actionFaultState

	rate     map[string][]time.Time // per token: times of counted requests within the last hour
	requests []Request
	counts   Counts
}

// Counts sums up the requests served since the start or the last ResetRequests, however many the log keeps.
type Counts struct {
	API      int         `json:"api"`
	Metadata int         `json:"metadata"`
	Status   map[int]int `json:"status"` // API requests by answer status; 0 for a connection reset
}

type scope int

const (
	scopeNone scope = iota
	scopeRead
	scopeFull
)

type ipState struct {
	ReservedIP
	v6      bool
	addr    netip.Addr
	created time.Time
	history []holderChange // completed moves, oldest first, at most maxHistory
}

// Request is one logged request. API and metadata requests are logged; control requests (/_sim) are not.
type Request struct {
	Time       time.Time `json:"time"`
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	Status     int       `json:"status"` // 0 when the connection was reset before an answer
	Body       string    `json:"body,omitempty"`
	TokenValid bool      `json:"token_valid"`
	Metadata   bool      `json:"metadata,omitempty"`
	Fault      string    `json:"fault,omitempty"` // which injected fault shaped the answer, if any
	RequestID  string    `json:"request_id,omitempty"`
}

// New builds a simulator from a world after validating it.
func New(w World) (*Sim, error) {
	if err := w.validate(); err != nil {
		return nil, fmt.Errorf("new simulator: %w", err)
	}
	if w.RatePerMinute == 0 {
		w.RatePerMinute = DefaultRatePerMinute
	}
	if w.RatePerHour == 0 {
		w.RatePerHour = DefaultRatePerHour
	}
	s := &Sim{
		now:        time.Now,
		world:      w,
		droplets:   map[int]*Droplet{},
		ips:        map[string]*ipState{},
		tokens:     map[string]scope{},
		latency:    w.ActionLatency,
		nextAction: 2412000001,
		actions:    map[int]*action{},
		rate:       map[string][]time.Time{},
	}
	s.started = s.clock().UTC().Truncate(time.Second)
	for i := range w.Droplets {
		d := w.Droplets[i]
		s.droplets[d.ID] = &d
	}
	for _, ip := range w.IPs {
		a := netip.MustParseAddr(ip.IP) // validated above
		ip.IP = a.String()
		s.ips[ip.IP] = &ipState{ReservedIP: ip, v6: a.Is6(), addr: a, created: s.started}
		s.ipOrder = append(s.ipOrder, ip.IP)
	}
	for _, t := range w.ReadOnlyTokens {
		s.tokens[t] = scopeRead
	}
	for _, t := range w.Tokens {
		s.tokens[t] = scopeFull
	}
	s.scoped = map[string]map[string]bool{}
	for t, scopes := range w.ScopedTokens {
		s.tokens[t] = scopeFull // authenticates; scopeAllows decides each request
		s.scoped[t] = map[string]bool{}
		for _, sc := range scopes {
			s.scoped[t][sc] = true
		}
	}
	return s, nil
}

// clock is the simulated DigitalOcean's time: now, shifted by SetClockOffset.
func (s *Sim) clock() time.Time { return s.now().Add(time.Duration(s.offset.Load())) }

// SetClockOffset makes the simulated DigitalOcean's clock run d ahead of this machine's (behind when d is
// negative), as when a droplet's clock is off. Everything the simulator derives from its clock follows: the
// rate-limit windows and ratelimit-reset, action timestamps, and the Date header of every answer. Durations the
// simulator sends (retry-after) and action latencies do not change.
func (s *Sim) SetClockOffset(d time.Duration) { s.offset.Store(int64(d)) }

// UseUpHour spends token's hourly allowance the way other users of a shared token would, with requests made
// long enough ago that the oldest of them leaves the hour window resetIn from now. Until then every API request
// with the token answers 429 too_many_requests with ratelimit-remaining 0 and ratelimit-reset at that moment;
// like DigitalOcean, such a 429 carries no retry-after (that comes only with the per-minute burst limit). The
// spent requests all fall at the same instant, so the whole allowance comes back at once.
func (s *Sim) UseUpHour(token string, resetIn time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	resetIn = min(max(resetIn, 0), time.Hour)
	at := s.clock().Add(resetIn - time.Hour)
	hist := make([]time.Time, s.world.RatePerHour)
	for i := range hist {
		hist[i] = at
	}
	s.rate["token:"+token] = hist
}

// lookupIP finds a reserved IP by any spelling of its address.
func (s *Sim) lookupIP(ip string) *ipState {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return nil
	}
	return s.ips[a.String()]
}

// Holder returns the droplet that holds ip after all completed actions, 0 if none or if ip is unknown.
func (s *Sim) Holder(ip string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	if st := s.lookupIP(ip); st != nil {
		return st.DropletID
	}
	return 0
}

// Locked reports whether ip has an action in progress.
func (s *Sim) Locked(ip string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	st := s.lookupIP(ip)
	return st != nil && s.pendingForIP(st.IP) != nil
}

// Assign sets the holder of ip directly, without an action; dropletID 0 unassigns. It is for tests that need a
// starting state, so it skips DigitalOcean's rules except that the IP and droplet must exist.
func (s *Sim) Assign(ip string, dropletID int) {
	_ = s.assign(ip, dropletID)
}

func (s *Sim) assign(ip string, dropletID int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.lookupIP(ip)
	if st == nil {
		return fmt.Errorf("reserved ip %s does not exist", ip)
	}
	if dropletID != 0 && s.droplets[dropletID] == nil {
		return fmt.Errorf("droplet %d does not exist", dropletID)
	}
	// A starting state, not a move: the metadata service shows it at once, whatever its lag.
	st.DropletID, st.history = dropletID, nil
	return nil
}

// MovedAt returns when the last action that moved ip completed; zero if none did.
func (s *Sim) MovedAt(ip string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	if st := s.lookupIP(ip); st != nil && len(st.history) > 0 {
		return st.history[len(st.history)-1].at
	}
	return time.Time{}
}

// SetActionLatency changes how long actions created from now on stay in progress.
func (s *Sim) SetActionLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Requests returns a copy of the request log.
func (s *Sim) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetRequests empties the request log.
func (s *Sim) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.counts = Counts{}
}

// Counts returns the request counts.
func (s *Sim) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counts
	c.Status = make(map[int]int, len(s.counts.Status))
	for k, v := range s.counts.Status {
		c.Status[k] = v
	}
	return c
}

// maxLogged bounds the request log of a long-running simulator; the oldest entries go first.
const maxLogged = 100000

func (s *Sim) logRequest(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) >= maxLogged {
		s.requests = append(s.requests[:0:0], s.requests[len(s.requests)-maxLogged+1:]...)
	}
	s.requests = append(s.requests, r)
	if r.Metadata {
		s.counts.Metadata++
		return
	}
	s.counts.API++
	if s.counts.Status == nil {
		s.counts.Status = map[int]int{}
	}
	s.counts.Status[r.Status]++
}

// newRequestID makes a random UUID (version 4), the form DigitalOcean's x-request-id takes.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// IPState is one reserved IP as the control API reports it.
type IPState struct {
	IP        string `json:"ip"`
	DropletID int    `json:"droplet_id"`
	Locked    bool   `json:"locked"`
}

// State is the answer of GET /_sim/state.
type State struct {
	IPs              []IPState `json:"ips"`
	Requests         int       `json:"requests"`          // API requests logged
	MetadataRequests int       `json:"metadata_requests"` // metadata requests logged
}

// State reports every reserved IP's holder and lock, and how many requests were logged.
func (s *Sim) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	st := State{IPs: []IPState{}}
	for _, k := range s.ipOrder {
		ip := s.ips[k]
		st.IPs = append(st.IPs, IPState{IP: ip.IP, DropletID: ip.DropletID, Locked: s.pendingForIP(ip.IP) != nil})
	}
	for _, r := range s.requests {
		if r.Metadata {
			st.MetadataRequests++
		} else {
			st.Requests++
		}
	}
	return st
}

// sortedDropletIDs keeps listings stable.
func (s *Sim) sortedDropletIDs() []int {
	ids := make([]int, 0, len(s.droplets))
	for id := range s.droplets {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}
