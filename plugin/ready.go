package meridian

// Ready implements ready.Readiness: true once the first snapshot is built
// from every source's first full load and, with widened ECS scopes, the
// scope table of its locations is built (a fraction of a second for a
// small database, about 5 s for GeoLite2 City), so that the first answers
// carry the scopes the later ones will. CoreDNS's ready plugin stops
// asking once it is true.
func (m *Meridian) Ready() bool {
	if !m.sourcesSynced() || !m.pipe.Settled() {
		return false
	}
	snap := m.pipe.Snapshot()
	return m.locator == nil || snap == nil || m.locator.ScopesSettled(snap.Locations)
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
