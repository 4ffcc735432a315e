// Package grafana builds Meridian's Grafana dashboard
// (deploy/grafana/meridian.json) with the Grafana Foundation SDK, so the
// checked-in JSON is generated, and lists the PromQL expressions it holds
// for the test that runs them against a real Prometheus. Regenerate the
// file with `make dashboard`.
package grafana

//go:generate env MERIDIAN_UPDATE=1 go test -count=1 -run TestDashboardFile .

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// rate is the range of the dashboard's rate() windows.
const rate = "[$__rate_interval]"

// query is one PromQL expression of a panel and its legend.
type query struct{ expr, legend string }

// panel is one panel: a time series unless stat.
type panel struct {
	title, description, unit string
	stat                     bool
	queries                  []query
}

// rows are the dashboard's rows and their panels.
var rows = []struct {
	title  string
	panels []panel
}{
	{"Answers", []panel{
		{title: "Answers by cluster", unit: "reqps", description: "Answers that named a shard, by the cluster of the first shard named.",
			queries: []query{{"sum by (cluster) (rate(coredns_meridian_answers_total" + rate + "))", "{{cluster}}"}}},
		{title: "Answers by policy", unit: "reqps", description: "Answers by the policy that chose them (closest when weighted or failover could not, and on fail-open).",
			queries: []query{{"sum by (policy) (rate(coredns_meridian_answers_total" + rate + "))", "{{policy}}"}}},
		{title: "Fall-backs, fail-opens and spills", unit: "reqps", description: "Zone and region names answered one level up; global names that failed open; answers spill moved.",
			queries: []query{
				{"sum by (level) (rate(coredns_meridian_fallbacks_total" + rate + "))", "fall-back from {{level}}"},
				{"sum(rate(coredns_meridian_fail_opens_total" + rate + "))", "fail-open"},
				{"sum(rate(coredns_meridian_spills_total" + rate + "))", "spill"},
			}},
	}},
	{"Health", []panel{
		{title: "Clusters by state", stat: true, description: "Member clusters up, stale and down.",
			queries: []query{{"sum by (state) (max by (cluster, state) (coredns_meridian_cluster_state))", "{{state}}"}}},
		{title: "Services and hosts by state", description: "Federated services and hosts failing open, degraded, with no address, healthy.",
			queries: []query{{"max by (kind, state) (coredns_meridian_service_states)", "{{kind}} {{state}}"}}},
		{title: "Shards not usable, by cluster", description: "Shards of services and hosts out of the answers (needs shard_metrics on).",
			queries: []query{
				{"sum by (cluster) (max by (cluster, namespace, service) (1 - coredns_meridian_shard_healthy))", "{{cluster}} services"},
				{"sum by (cluster) (max by (cluster, host) (1 - coredns_meridian_host_shard_healthy))", "{{cluster}} hosts"},
			}},
		{title: "Probe results", unit: "reqps", description: "Active probes by result.",
			queries: []query{{"sum by (result) (rate(coredns_meridian_probes_total" + rate + "))", "{{result}}"}}},
		{title: "Probe latency", unit: "s", description: "Time taken by active probes.",
			queries: []query{
				{"histogram_quantile(0.5, sum by (le) (rate(coredns_meridian_probe_duration_seconds_bucket" + rate + ")))", "p50"},
				{"histogram_quantile(0.99, sum by (le) (rate(coredns_meridian_probe_duration_seconds_bucket" + rate + ")))", "p99"},
			}},
	}},
	{"Meridian", []panel{
		{title: "GeoIP cache hit ratio", unit: "percentunit", description: "Client locations found in the cache rather than the database.",
			queries: []query{{"sum(rate(coredns_meridian_geoip_cache_hits_total" + rate + ")) / (sum(rate(coredns_meridian_geoip_cache_hits_total" + rate +
				")) + sum(rate(coredns_meridian_geoip_cache_misses_total" + rate + ")))", "hit ratio"}}},
		{title: "Snapshot builds", unit: "ops", description: "Snapshots built a second.",
			queries: []query{{"sum by (instance) (rate(coredns_meridian_snapshot_build_duration_seconds_count" + rate + "))", "{{instance}}"}}},
		{title: "Snapshot build duration", unit: "s", description: "Time to gather, build and publish a snapshot.",
			queries: []query{
				{"histogram_quantile(0.5, sum by (le) (rate(coredns_meridian_snapshot_build_duration_seconds_bucket" + rate + ")))", "p50"},
				{"histogram_quantile(0.99, sum by (le) (rate(coredns_meridian_snapshot_build_duration_seconds_bucket" + rate + ")))", "p99"},
			}},
		{title: "Snapshot age and lag", unit: "s", description: "Age of the snapshot answered from (it changes only when something does), and how long a change waits for one.",
			queries: []query{
				{"time() - max by (instance) (coredns_meridian_snapshot_timestamp_seconds)", "age {{instance}}"},
				{"max by (instance) (coredns_meridian_snapshot_behind_seconds)", "behind {{instance}}"},
			}},
		{title: "Ready replicas", stat: true, description: "Replicas that report ready.",
			queries: []query{{"sum(coredns_meridian_ready)", "ready"}}},
	}},
	{"DNS (CoreDNS)", []panel{
		{title: "Queries by type", unit: "reqps", description: "CoreDNS's own request counter.",
			queries: []query{{"sum by (type) (rate(coredns_dns_requests_total" + rate + "))", "{{type}}"}}},
		{title: "Responses by rcode", unit: "reqps",
			queries: []query{{"sum by (rcode) (rate(coredns_dns_responses_total" + rate + "))", "{{rcode}}"}}},
		{title: "Query latency", unit: "s", description: "CoreDNS's request duration.",
			queries: []query{
				{"histogram_quantile(0.5, sum by (le) (rate(coredns_dns_request_duration_seconds_bucket" + rate + ")))", "p50"},
				{"histogram_quantile(0.99, sum by (le) (rate(coredns_dns_request_duration_seconds_bucket" + rate + ")))", "p99"},
			}},
	}},
}

// Dashboard builds the dashboard.
func Dashboard() (dashboard.Dashboard, error) {
	ds := common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
	b := dashboard.NewDashboardBuilder("Meridian").
		Uid("meridian").
		Description("Meridian: global DNS traffic steering for multi-cluster Services. Generated by deploy/grafana (make dashboard).").
		Tags([]string{"meridian", "dns", "coredns"}).
		Refresh("30s").
		Time("now-1h", "now").
		Timezone(common.TimeZoneBrowser).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Prometheus").Type("prometheus"))
	for _, r := range rows {
		b = b.WithRow(dashboard.NewRowBuilder(r.title))
		for _, p := range r.panels {
			var targets []cog.Builder[variants.Dataquery]
			for _, q := range p.queries {
				targets = append(targets, prometheus.NewDataqueryBuilder().Expr(q.expr).LegendFormat(q.legend))
			}
			if p.stat {
				sp := stat.NewPanelBuilder().Title(p.title).Description(p.description).Datasource(ds).Height(6).Span(6)
				for _, t := range targets {
					sp = sp.WithTarget(t)
				}
				b = b.WithPanel(sp)
				continue
			}
			tp := timeseries.NewPanelBuilder().Title(p.title).Description(p.description).Datasource(ds).Height(8).Span(12).Min(0)
			if p.unit != "" {
				tp = tp.Unit(p.unit)
			}
			for _, t := range targets {
				tp = tp.WithTarget(t)
			}
			b = b.WithPanel(tp)
		}
	}
	return b.Build()
}

// JSON is the dashboard as deploy/grafana/meridian.json holds it.
func JSON() ([]byte, error) {
	d, err := Dashboard()
	if err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Exprs returns every PromQL expression ("expr") of a dashboard's JSON, in
// order, with the rate window $__rate_interval replaced by window so that
// Prometheus can run them.
func Exprs(dashboardJSON []byte, window string) ([]string, error) {
	var v any
	if err := json.Unmarshal(dashboardJSON, &v); err != nil {
		return nil, err
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if e, ok := v["expr"].(string); ok {
				out = append(out, strings.ReplaceAll(e, "$__rate_interval", window))
			}
			for _, k := range slices.Sorted(maps.Keys(v)) {
				walk(v[k])
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return out, nil
}
