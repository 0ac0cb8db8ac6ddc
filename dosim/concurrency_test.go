package dosim

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// Two keepalived nodes racing to take the IP: DigitalOcean accepts one assign and refuses the rest with
// a pending event, whatever the interleaving.
func TestConcurrentAssignsAcceptExactlyOne(t *testing.T) {
	f := newFixture(t, nil)
	const n = 16
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			droplet := 1001 + i%2
			r, err := f.try("POST", assignPath, DemoToken, `{"type":"assign","droplet_id":`+itoaT(droplet)+`}`)
			if err != nil {
				t.Error(err)
				return
			}
			statuses[i] = r.status
		}(i)
	}
	wg.Wait()
	created, refused := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusUnprocessableEntity:
			refused++
		}
	}
	if created != 1 || refused != n-1 {
		t.Fatalf("%d created, %d refused; want 1 and %d (statuses %v)", created, refused, n-1, statuses)
	}
	f.clk.Advance(time.Second)
	if h := f.sim.Holder("203.0.113.10"); h != 1001 && h != 1002 {
		t.Fatalf("holder %d", h)
	}
}

func TestResetFaultOnMetadata(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.AddFault(Fault{Metadata: true, Reset: true, Path: "/droplets/1001/metadata/v1/id", Times: 1})
	if _, err := f.try("GET", "/droplets/1001/metadata/v1/id", "", ""); err == nil {
		t.Fatal("answer through a reset")
	}
	if r := f.do(t, "GET", "/droplets/1001/metadata/v1/id", "", ""); r.status != 200 || string(r.body) != "1001" {
		t.Fatalf("after the fault: %d %q", r.status, r.body)
	}
}
