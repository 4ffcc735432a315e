package meridian

// synced is what a source implements when it can tell that its first full
// load is done.
type synced interface{ HasSynced() bool }

// Ready implements ready.Readiness: true once the first snapshot is built
// from every source's first full load.
func (m *Meridian) Ready() bool {
	return m.sourcesSynced() && m.store.Settled()
}

// sourcesSynced reports whether every source has done its first full load;
// the store takes the SOA serial afresh until then (store.Config.Synced).
func (m *Meridian) sourcesSynced() bool {
	for _, src := range m.sources {
		if s, ok := src.(synced); ok && !s.HasSynced() {
			return false
		}
	}
	return true
}
