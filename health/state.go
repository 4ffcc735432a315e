package health

// State is the liveness of a member cluster as its source sees it.
type State uint8

// The states a cluster moves through. Up and Stale clusters are used in
// answers (a stale one with what it last said); Down clusters are not.
const (
	Up State = iota
	Stale
	Down
)

// String returns the lower-case name used in logs and metric values.
func (s State) String() string {
	switch s {
	case Up:
		return "up"
	case Stale:
		return "stale"
	case Down:
		return "down"
	}
	return "unknown"
}

// Usable reports whether a cluster in state s may be used in answers.
func (s State) Usable() bool { return s == Up || s == Stale }
