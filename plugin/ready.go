package meridian

// Ready implements ready.Readiness: true once the first snapshot is built
// from every source's first full load.
func (m *Meridian) Ready() bool {
	return m.sourcesSynced() && m.pipe.Settled()
}

// sourcesSynced reports whether every source has done its first full load;
// the pipeline takes the SOA serial afresh until then
// (pipeline.Config.Synced).
func (m *Meridian) sourcesSynced() bool {
	for _, src := range m.sources {
		if !src.HasSynced() {
			return false
		}
	}
	return true
}
