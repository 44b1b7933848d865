package localaws

import (
	"encoding/json"
	"io"
	"net/http"
)

// Faults are failures the stand-in injects (POST /local/faults).
type Faults struct {
	// Throttle answers the next Throttle SubmitJob calls with 429
	// TooManyRequestsException, as AWS Batch does over 50 calls a second.
	Throttle int `json:"throttle"`
	// Refuse answers every SubmitJob with 400 ClientException (a queue
	// that was deleted, say): a submission that always fails.
	Refuse bool `json:"refuse"`
	// KillIndex is an array index whose first attempt is SIGKILLed after
	// KillAfterMS milliseconds (-1: none), as a lost Spot host ends it.
	KillIndex   int `json:"kill_index"`
	KillAfterMS int `json:"kill_after_ms"`
}

// SetFaults replaces the injected faults.
func (b *Batch) SetFaults(f Faults) {
	b.init()
	b.mu.Lock()
	b.faults = f
	b.mu.Unlock()
}

// refuse answers a SubmitJob call with an injected fault, if one is due.
func (b *Batch) refuse(w http.ResponseWriter) bool {
	b.init()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	switch {
	case b.faults.Refuse:
		w.Header().Set("X-Amzn-ErrorType", "ClientException")
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "job queue is DISABLED (injected fault)"})
		return true
	case b.faults.Throttle > 0:
		b.faults.Throttle--
		w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"message": "Too Many Requests (injected fault)"})
		return true
	}
	return false
}

// serveFaults takes POST /local/faults: a JSON Faults.
func (b *Batch) serveFaults(w http.ResponseWriter, r *http.Request) {
	f := Faults{KillIndex: -1}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&f); err != nil {
		clientError(w, "faults: %v", err)
		return
	}
	b.SetFaults(f)
	w.WriteHeader(http.StatusNoContent)
}
