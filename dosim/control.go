package dosim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// serveControl answers /_sim/..., the control API for tests that run the simulator as a separate process.
// It needs no token, is not rate limited and is not logged.
func (s *Sim) serveControl(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		controlError(w, http.StatusBadRequest, err)
		return
	}
	switch r.Method + " " + r.URL.Path {
	case "POST /_sim/faults":
		var f Fault
		if err := strictUnmarshal(body, &f); err != nil {
			controlError(w, http.StatusBadRequest, fmt.Errorf("fault: %w", err))
			return
		}
		s.AddFault(f)
		w.WriteHeader(http.StatusNoContent)
	case "POST /_sim/action-faults":
		var f ActionFault
		if err := strictUnmarshal(body, &f); err != nil {
			controlError(w, http.StatusBadRequest, fmt.Errorf("action fault: %w", err))
			return
		}
		s.AddActionFault(f)
		w.WriteHeader(http.StatusNoContent)
	case "DELETE /_sim/faults":
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	case "PUT /_sim/latency":
		var j struct {
			ActionLatency string `json:"action_latency"`
		}
		if err := strictUnmarshal(body, &j); err != nil {
			controlError(w, http.StatusBadRequest, fmt.Errorf("latency: %w", err))
			return
		}
		d, err := parseDuration("action_latency", j.ActionLatency)
		if err != nil {
			controlError(w, http.StatusBadRequest, err)
			return
		}
		s.SetActionLatency(d)
		w.WriteHeader(http.StatusNoContent)
	case "PUT /_sim/clock":
		var j struct {
			Offset string `json:"offset"`
		}
		if err := strictUnmarshal(body, &j); err != nil {
			controlError(w, http.StatusBadRequest, fmt.Errorf("clock: %w", err))
			return
		}
		d, err := time.ParseDuration(j.Offset)
		if err != nil {
			controlError(w, http.StatusBadRequest, fmt.Errorf("clock: offset %q: %w", j.Offset, err))
			return
		}
		s.SetClockOffset(d)
		w.WriteHeader(http.StatusNoContent)
	case "POST /_sim/use-up-hour":
		var j struct {
			Token   string `json:"token"`
			ResetIn string `json:"reset_in"`
		}
		if err := strictUnmarshal(body, &j); err != nil {
			controlError(w, http.StatusBadRequest, fmt.Errorf("use-up-hour: %w", err))
			return
		}
		d, err := parseDuration("reset_in", j.ResetIn)
		if err != nil || j.Token == "" {
			controlError(w, http.StatusBadRequest, fmt.Errorf("use-up-hour: want a token and reset_in such as \"2s\" (%v)", err))
			return
		}
		s.UseUpHour(j.Token, d)
		w.WriteHeader(http.StatusNoContent)
	case "GET /_sim/state":
		writeJSON(w, http.StatusOK, s.State())
	case "GET /_sim/requests":
		reqs := s.Requests()
		if reqs == nil {
			reqs = []Request{}
		}
		writeJSON(w, http.StatusOK, reqs)
	case "DELETE /_sim/requests":
		s.ResetRequests()
		w.WriteHeader(http.StatusNoContent)
	case "POST /_sim/assign":
		var j struct {
			IP        string `json:"ip"`
			DropletID int    `json:"droplet_id"`
		}
		if err := strictUnmarshal(body, &j); err != nil {
			controlError(w, http.StatusBadRequest, fmt.Errorf("assign: %w", err))
			return
		}
		if err := s.assign(j.IP, j.DropletID); err != nil {
			controlError(w, http.StatusUnprocessableEntity, fmt.Errorf("assign: %w", err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		controlError(w, http.StatusNotFound, fmt.Errorf("no control endpoint %s %s", r.Method, r.URL.Path))
	}
}

func controlError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// strictUnmarshal rejects unknown fields, so a misspelt fault field fails loudly instead of injecting nothing.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after JSON value")
	}
	return nil
}
