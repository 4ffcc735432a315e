package health

// Hysteresis turns a series of pass/fail results into a stable up/down
// state with rise/fall counting. The zero value is pending: not known yet,
// and up. The first result sets the state directly; after that the state
// goes down only after fall failing results in a row and up only after
// rise passing results in a row.
//
// A Hysteresis is a value without a lock; its owner serializes access.
type Hysteresis struct {
	run   int  // how many results in a row equal last
	known bool // a result was recorded since the start or Restart
	down  bool // the stable state; false (up) while pending
	last  bool // the latest result
}

// Record adds one result (ok: it passed) counted against rise and fall
// (values below 1 count as 1) and reports whether Up changed. The first
// result that confirms the pending state is not a change.
func (h *Hysteresis) Record(ok bool, rise, fall int) (changed bool) {
	if h.known && ok == h.last {
		h.run++
	} else {
		h.last, h.run = ok, 1
	}
	if !h.known {
		h.known = true
		changed = ok != h.Up()
		h.down = !ok
		return changed
	}
	need := fall
	if ok {
		need = rise
	}
	if ok == h.Up() || h.run < need {
		return false
	}
	h.down = !ok
	return true
}

// Restart forgets the results but keeps the state: Known is false again,
// and the next result sets the state directly. It is for a target whose
// check changed, so what was known of it holds until the new check says
// otherwise.
func (h *Hysteresis) Restart() { h.known, h.run = false, 0 }

// Up reports the stable state: true while pending from the zero value.
func (h *Hysteresis) Up() bool { return !h.down }

// Known reports whether a result was recorded.
func (h *Hysteresis) Known() bool { return h.known }

// Run returns how many of the latest results in a row had the same
// outcome (0 before the first), for log messages.
func (h *Hysteresis) Run() int { return h.run }
