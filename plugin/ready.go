package meridian

import "github.com/miekg/dns"

// Ready implements ready.Readiness: true once this plugin and every other
// meridian block the process runs are ready (ready). CoreDNS's ready
// plugin keeps one entry per plugin name, so of several meridian blocks
// (the demo's authoritative and resolver roles, say) only one would be
// asked, and the process could say it is ready while a role still answers
// Not Ready; each block speaks for all. The ready plugin stops asking
// once it is true; coredns_meridian_ready reports it.
func (m *Meridian) Ready() bool {
	return m.ready() && instances.ready()
}

// ready reports whether this plugin has the state its answers need: the
// first snapshot is built from every source's first full load and, with
// widened ECS scopes, the scope table of its locations is built (a
// fraction of a second for a small database, about 5 s for GeoLite2
// City), so that the first answers carry the scopes the later ones will.
func (m *Meridian) ready() bool {
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

// serving reports whether the plugin answers queries: once it has been
// ready, for good. Before that its state is partial (a cluster's objects
// not listed yet, the local cluster not synced, the scope table not
// built), and an answer from it could be one it would not give a moment
// later, which caches would keep for its TTL (issue 16, item 8): so the
// handler and the fast path answer SERVFAIL with Extended DNS Error 14
// (Not Ready) instead, which resolvers retry elsewhere and do not cache
// as data.
func (m *Meridian) serving() bool {
	if m.serves.Load() {
		return true
	}
	if !m.ready() {
		return false
	}
	m.serves.Store(true)
	return true
}

// notReady is the EDE of the replies before the plugin is first ready.
var notReady = &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNotReady, ExtraText: "meridian has not loaded its member clusters yet"}
