package dosim_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/do-fip/do-fip/dosim"
)

// A test serves the demo world, makes the next assign fail with a 503, and watches the retry succeed.
func Example() {
	w := dosim.DemoWorld()
	w.ActionLatency = 0 // actions complete on the next read
	sim, err := dosim.New(w)
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	sim.AddFault(dosim.Fault{Method: "POST", Path: "/v2/reserved_ips/203.0.113.10/actions", Status: 503, Times: 1})

	client := &http.Client{Timeout: 5 * time.Second}
	for attempt := 1; attempt <= 2; attempt++ {
		req, _ := http.NewRequest("POST", srv.URL+"/v2/reserved_ips/203.0.113.10/actions",
			strings.NewReader(`{"type":"assign","droplet_id":1001}`))
		req.Header.Set("Authorization", "Bearer "+dosim.DemoToken)
		resp, err := client.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Println("attempt", attempt, resp.StatusCode)
	}
	fmt.Println("holder", sim.Holder("203.0.113.10"))
	// Output:
	// attempt 1 503
	// attempt 2 201
	// holder 1001
}
