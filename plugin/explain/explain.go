// Package explain turns the trace of one answer into a report a person
// can read: what the name is, where the client is, every shard of the
// service with its distance and health signals, why each was chosen or
// passed over, and the records of the reply. It reads the trace the
// authoritative role recorded while answering (authority.Trace) and the
// health trackers' state; it decides nothing itself, so the report cannot
// disagree with the answer. Build is pure; package status serves it.
package explain

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/plugin/answer"
	"github.com/meridian-dns/meridian/plugin/authority"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/policy"
)

// Health is the health trackers' state of a shard (the pipeline's).
type Health interface {
	Passive(k health.Key) (health.PassiveStatus, bool)
	Probes(k health.Key) []health.ProbeStatus
}

// Question is what was asked: a name and type, for a client network, as
// an ECS option (ECS true) or as the query's source address.
type Question struct {
	Name   string
	Type   uint16
	Client netip.Prefix
	ECS    bool
}

// Input is what Build reads.
type Input struct {
	Question Question
	// Trace is what the answer recorded; Reply is the reply it wrote.
	Trace *authority.Trace
	Reply *dns.Msg
	// Located is where the client is, looked up for the report whether
	// or not the answer needed it (a zone-level name does not).
	Located geo.Location
	// GeoIP says whether a database is loaded: without one no client has
	// a location.
	GeoIP bool
	// Health gives each shard's passive and probe state; nil leaves them
	// out.
	Health Health
}

// Report is the whole explanation of one answer. Its JSON is the explain
// endpoint's reply.
type Report struct {
	Question ReportQuestion `json:"question"`
	// Verdict is the answer in one line, for a person.
	Verdict string `json:"verdict"`
	// Kind is what the name is: service, host, apex, nameserver,
	// empty_non_terminal, nxdomain, or none before the first snapshot.
	Kind     string          `json:"kind"`
	Name     *NameReport     `json:"name,omitempty"`
	Client   ClientReport    `json:"client"`
	Snapshot *SnapshotReport `json:"snapshot,omitempty"`
	Service  *ServiceReport  `json:"service,omitempty"`
	// Chain is the fall-back chain: the question's name, then each name
	// one level up that the one before is a CNAME to.
	Chain []ChainStep `json:"chain,omitempty"`
	// Shards are every shard of the service, with why each was chosen or
	// passed over at the chain's last name.
	Shards   []ShardReport   `json:"shards,omitempty"`
	Decision *DecisionReport `json:"decision,omitempty"`
	// TTL is the TTL of the reply's positive records, ECSScope its ECS
	// scope prefix length.
	TTL      uint32      `json:"ttl"`
	ECSScope uint8       `json:"ecs_scope"`
	Reply    ReplyReport `json:"reply"`
}

// ReportQuestion is the question as asked.
type ReportQuestion struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Client string `json:"client"`
	// ECS is true when the client was sent as an EDNS Client Subnet option,
	// false when it was the query's source address.
	ECS bool `json:"ecs"`
}

// NameReport is the question's name, parsed.
type NameReport struct {
	Level     string `json:"level"`
	Region    string `json:"region,omitempty"`
	Zone      string `json:"zone,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Service   string `json:"service,omitempty"`
	Port      string `json:"port,omitempty"`
	Proto     string `json:"proto,omitempty"`
	Host      string `json:"host,omitempty"`
}

// ClientReport is where the client is.
type ClientReport struct {
	Known     bool    `json:"known"`
	Latitude  float64 `json:"latitude,omitempty"`
	Longitude float64 `json:"longitude,omitempty"`
	// Network is the GeoIP network the location holds for, cut to Scope
	// bits: every client in it gets the same location.
	Network string `json:"network,omitempty"`
	Scope   int    `json:"scope"`
	// Unknown says why the location is not known.
	Unknown string `json:"unknown,omitempty"`
	// Used is true when the answer ordered shards by the client's
	// location (the chain reached the global level).
	Used bool `json:"used"`
}

// SnapshotReport is the snapshot answered from.
type SnapshotReport struct {
	Serial uint32    `json:"serial"`
	Built  time.Time `json:"built"`
}

// ServiceReport is the service or host named, and its policy.
type ServiceReport struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Host      string `json:"host,omitempty"`
	// Degraded is true when some shard with an address is not usable:
	// answers carry the degraded TTL.
	Degraded bool         `json:"degraded"`
	Policy   PolicyReport `json:"policy"`
	Problems []string     `json:"problems,omitempty"`
}

// PolicyReport is a service's policy and its parameters.
type PolicyReport struct {
	Kind             string         `json:"kind"`
	Shards           int            `json:"shards"`
	Failover         []string       `json:"failover,omitempty"`
	Weights          map[string]int `json:"weights,omitempty"`
	MinReady         int            `json:"min_ready"`
	MinReadyFraction float64        `json:"min_ready_fraction,omitempty"`
	Backends         string         `json:"backends,omitempty"`
	Spill            float64        `json:"spill,omitempty"`
	Probe            string         `json:"probe"`
	Rise             int            `json:"rise"`
	Fall             int            `json:"fall"`
}

// ChainStep is one name of the fall-back chain.
type ChainStep struct {
	Name       string `json:"name"`
	Level      string `json:"level"`
	Candidates int    `json:"candidates"`
	// Result is what the name holds: "CNAME to the name one level up",
	// "records", "CNAME to hostname H".
	Result string `json:"result"`
}

// ShardReport is one shard of the service.
type ShardReport struct {
	Cluster      string    `json:"cluster"`
	Region       string    `json:"region,omitempty"`
	Zones        []string  `json:"zones,omitempty"`
	DistanceKm   *float64  `json:"distance_km,omitempty"`
	ClusterState string    `json:"cluster_state"`
	Ready        int       `json:"ready"`
	Total        int       `json:"total"`
	Backends     []Backend `json:"backends,omitempty"`
	Detached     bool      `json:"detached,omitempty"`
	Addresses    []string  `json:"addresses,omitempty"`
	Hostname     string    `json:"hostname,omitempty"`
	Healthy      bool      `json:"healthy"`
	Usable       bool      `json:"usable"`
	Degraded     bool      `json:"degraded"`
	Capacity     bool      `json:"capacity"`
	Passive      *Passive  `json:"passive,omitempty"`
	Probes       []Probe   `json:"probes,omitempty"`
	Weight       *int      `json:"weight,omitempty"`
	Chosen       bool      `json:"chosen"`
	Rank         int       `json:"rank,omitempty"` // 1 for the first shard named
	Why          string    `json:"why"`
	// Families are the families it is named for (A, AAAA) when they are
	// chosen apart from what the name holds.
	Families []string `json:"families,omitempty"`
}

// Backend is one backend Service of a host shard.
type Backend struct {
	Ready int `json:"ready"`
	Total int `json:"total"`
}

// Passive is the passive signal of a shard (ready endpoints).
type Passive struct {
	Up bool `json:"up"`
	// Raw is the signal as last seen, since Since; it differs from Up
	// while a transition waits for rise or fall.
	Raw   bool      `json:"raw"`
	Since time.Time `json:"since"`
}

// Probe is the active probe of one address of a shard.
type Probe struct {
	Target string    `json:"target"`
	Check  string    `json:"check"`
	Up     bool      `json:"up"`
	Known  bool      `json:"known"`
	Since  time.Time `json:"since"`
	Run    int       `json:"run"` // results in a row like the last
	Rise   int       `json:"rise"`
	Fall   int       `json:"fall"`
	// LastOK, LastError, LastAt and LastMs are the latest probe's result;
	// LastAt is zero before the first.
	LastOK    bool      `json:"last_ok"`
	LastError string    `json:"last_error,omitempty"`
	LastAt    time.Time `json:"last_at,omitzero"`
	LastMs    float64   `json:"last_ms,omitempty"`
}

// DecisionReport is what the chain's last name holds for the client.
type DecisionReport struct {
	// Policy is the policy that chose: the service's, or closest when it
	// could not (weighted with no weight, fail-open).
	Policy   string `json:"policy"`
	FailOpen bool   `json:"fail_open"`
	Spilled  bool   `json:"spilled"`
	// Dependent is true when a client elsewhere could get another answer:
	// the ECS scope is then the client's located network.
	Dependent bool `json:"dependent"`
	// Alias is true when the name is a CNAME to the first shard's
	// load-balancer hostname.
	Alias bool `json:"alias"`
	// Chosen are the clusters named, best first; A and AAAA those named
	// for each family when they are chosen apart.
	Chosen []string `json:"chosen"`
	A      []string `json:"a,omitempty"`
	AAAA   []string `json:"aaaa,omitempty"`
	// Rand and Seq are the query's draws, 0 when not drawn: Rand for
	// weighted picks and spill, Seq for roundrobin.
	Rand uint64 `json:"rand,omitempty"`
	Seq  uint64 `json:"seq,omitempty"`
}

// ReplyReport is the reply, as ServeDNS wrote it.
type ReplyReport struct {
	Rcode         string   `json:"rcode"`
	Authoritative bool     `json:"authoritative"`
	Truncated     bool     `json:"truncated"`
	Answer        []string `json:"answer"`
	Authority     []string `json:"authority"`
	Additional    []string `json:"additional"`
}

// Build makes the report of in.
func Build(in Input) *Report {
	tr := in.Trace
	r := &Report{Question: question(in.Question), Reply: Reply(in.Reply)}
	r.Client = client(in)
	if tr == nil {
		r.Kind = authority.WhatNone.String()
		r.Verdict = "not answered by the authoritative role"
		return r
	}
	r.Kind, r.TTL = tr.What.String(), tr.TTL
	if in.Question.ECS {
		r.ECSScope = tr.Scope // a query with no ECS gets none back
	}
	if s := tr.Snapshot; s != nil {
		r.Snapshot = &SnapshotReport{Serial: s.Serial, Built: s.Built}
	}
	switch tr.What {
	case authority.WhatService, authority.WhatHost:
		r.Name = nameReport(tr.Name, tr.Service)
	case authority.WhatNone:
		r.Verdict = "no snapshot yet: SERVFAIL"
		return r
	}
	if tr.Service == nil {
		r.Verdict = verdictOther(r)
		return r
	}
	r.Service = serviceReport(tr.Service)
	r.Client.Used = tr.Query.Loc.Known || (len(tr.Chain) > 0 && tr.Chain[len(tr.Chain)-1].Level == answer.Global)
	r.Chain = chain(tr)
	r.Decision = decision(tr)
	r.Shards = shards(in, tr)
	r.Verdict = verdict(r, in)
	return r
}

func question(q Question) ReportQuestion {
	return ReportQuestion{Name: q.Name, Type: dns.TypeToString[q.Type], Client: q.Client.String(), ECS: q.ECS}
}

func client(in Input) ClientReport {
	loc := in.Located
	c := ClientReport{Known: loc.Known, Scope: loc.Scope}
	if loc.Net.IsValid() {
		c.Network = loc.Net.String()
	}
	switch {
	case loc.Known:
		c.Latitude, c.Longitude = loc.Point.Lat, loc.Point.Lon
	case !in.GeoIP:
		c.Unknown = "no GeoIP database is configured"
	case !in.Question.Client.IsValid():
		c.Unknown = "no client address"
	case in.Question.Client.Bits() == 0:
		c.Unknown = "the ECS source prefix is /0: the client asks not to be located"
	default:
		c.Unknown = "the GeoIP database has no coordinates for this network"
	}
	return c
}

func nameReport(nm answer.Name, svc *model.Service) *NameReport {
	n := &NameReport{Level: nm.Level.String(), Region: nm.Region, Zone: nm.Zone,
		Namespace: nm.Namespace, Service: nm.Service, Port: nm.Port, Proto: nm.Proto}
	if nm.Kind == answer.Host && svc != nil {
		n.Host, n.Namespace, n.Service = svc.Host, svc.Namespace, svc.Name
	}
	return n
}

func serviceReport(svc *model.Service) *ServiceReport {
	p := &svc.Policy
	pr := PolicyReport{Kind: p.Kind.String(), Shards: max(p.Shards, 1), Failover: p.Failover,
		MinReady: max(p.MinReady, 1), MinReadyFraction: p.MinReadyFraction, Spill: p.Spill,
		Probe: p.Probe.Check.String(), Rise: max(p.Probe.Rise, 1), Fall: max(p.Probe.Fall, 1)}
	if len(p.Weights) > 0 {
		pr.Weights = map[string]int{}
		for _, w := range p.Weights {
			pr.Weights[w.Cluster] = w.Weight
		}
	}
	if svc.Host != "" {
		pr.Backends = "all"
		if p.AnyBackend {
			pr.Backends = "any"
		}
	}
	s := &ServiceReport{Namespace: svc.Namespace, Name: svc.Name, Host: svc.Host, Degraded: svc.Degraded, Policy: pr}
	for _, pb := range svc.Problems {
		s.Problems = append(s.Problems, fmt.Sprintf("%s=%q: %v", pb.Annotation, pb.Value, pb.Err))
	}
	return s
}

// chain reports each name of the chain; every name but the last had no
// candidate at its level.
func chain(tr *authority.Trace) []ChainStep {
	steps := make([]ChainStep, len(tr.Chain))
	for i, nm := range tr.Chain {
		q := levelQuery(nm)
		n := 0
		for _, sh := range tr.Service.Shards {
			if answer.Consider(sh, answer.Any, &q) == answer.Candidate {
				n++
			}
		}
		st := ChainStep{Name: tr.Owners[i], Level: nm.Level.String(), Candidates: n, Result: "CNAME to the name one level up: no usable shard at this level"}
		if i == len(tr.Chain)-1 {
			switch d := &tr.Decision; {
			case d.Alias:
				st.Result = "CNAME to the load-balancer hostname " + d.Shards[0].Hostname
			case d.FailOpen:
				st.Result = "records of every shard with an address: no shard is usable, so the answer fails open"
			case len(d.Shards) == 0:
				st.Result = "no records: no shard has an address"
			default:
				st.Result = "records"
			}
		}
		steps[i] = st
	}
	return steps
}

// levelQuery is the query of name nm's level, for Consider.
func levelQuery(nm answer.Name) answer.Query {
	return answer.Query{Level: nm.Level, Region: nm.Region, Zone: nm.Zone}
}

func decision(tr *authority.Trace) *DecisionReport {
	d := &tr.Decision
	dr := &DecisionReport{Policy: d.Policy.String(), FailOpen: d.FailOpen, Spilled: d.Spilled, Dependent: d.Dependent,
		Alias: d.Alias, Chosen: clusters(d.Shards), Rand: tr.Query.Rand, Seq: tr.Query.Seq}
	if r, ok := tr.ByFamily[answer.V4]; ok {
		dr.A = clusters(r.Shards)
	}
	if r, ok := tr.ByFamily[answer.V6]; ok {
		dr.AAAA = clusters(r.Shards)
	}
	return dr
}

func clusters(shs []*model.Shard) []string {
	out := make([]string, 0, len(shs))
	for _, sh := range shs {
		out = append(out, sh.Cluster.Name)
	}
	return out
}

// family is the family a question type is answered from.
func family(qtype uint16) answer.Family {
	switch qtype {
	case dns.TypeA:
		return answer.V4
	case dns.TypeAAAA:
		return answer.V6
	}
	return answer.Any
}

// shards reports every shard of the traced service.
func shards(in Input, tr *authority.Trace) []ShardReport {
	svc := tr.Service
	last := tr.Chain[len(tr.Chain)-1]
	q := tr.Query // the last name's level, the client's location
	fam := family(in.Question.Type)
	chosen := tr.Decision
	if r, ok := tr.ByFamily[fam]; ok {
		chosen = r
	}
	out := make([]ShardReport, 0, len(svc.Shards))
	for _, sh := range svc.Shards {
		sr := shardReport(in, svc, sh)
		for i, c := range chosen.Shards {
			if c == sh {
				sr.Chosen, sr.Rank = true, i+1
			}
		}
		for i, f := range []answer.Family{answer.V4, answer.V6} {
			for _, c := range tr.ByFamily[f].Shards {
				if c == sh {
					sr.Families = append(sr.Families, [...]string{"A", "AAAA"}[i])
				}
			}
		}
		out = append(out, sr)
	}
	// The farthest chosen distance, to tell ties from farther shards.
	var edge *float64
	for i := range out {
		if out[i].Chosen && out[i].DistanceKm != nil && (edge == nil || *out[i].DistanceKm > *edge) {
			edge = out[i].DistanceKm
		}
	}
	for i, sh := range svc.Shards {
		out[i].Why = why(svc, sh, &out[i], &q, fam, &chosen, last, edge)
	}
	return out
}

func shardReport(in Input, svc *model.Service, sh *model.Shard) ShardReport {
	c := sh.Cluster
	sr := ShardReport{Cluster: c.Name, Region: c.Region, Zones: c.Zones, ClusterState: c.State.String(),
		Ready: sh.Ready, Total: sh.Total, Detached: sh.Detached(), Hostname: sh.Hostname,
		Healthy: sh.Healthy, Usable: sh.Usable, Degraded: sh.Degraded}
	if in.Located.Known && c.Located {
		d := geo.Distance(in.Located.Point, c.Point)
		sr.DistanceKm = &d
	}
	for _, b := range sh.Backends() {
		sr.Backends = append(sr.Backends, Backend(b))
	}
	for _, a := range sh.V4 {
		sr.Addresses = append(sr.Addresses, a.String())
	}
	for _, a := range sh.V6 {
		sr.Addresses = append(sr.Addresses, a.String())
	}
	sr.Capacity = model.Capacity(svc, sh)
	if svc.Policy.Kind == policy.Weighted {
		w := 0
		for _, pw := range svc.Policy.Weights {
			if pw.Cluster == c.Name {
				w = pw.Weight
			}
		}
		sr.Weight = &w
	}
	if in.Health == nil {
		return sr
	}
	k := model.HealthKey(svc, sh)
	if st, ok := in.Health.Passive(k); ok {
		sr.Passive = &Passive{Up: st.Up, Raw: st.Raw, Since: st.Since}
	}
	for _, p := range in.Health.Probes(k) {
		pr := Probe{Target: strings.TrimPrefix(p.Target.String(), k.String()+" "), Check: p.Check.String(), Up: p.Up, Known: p.Known,
			Since: p.Since, Run: p.Run, Rise: max(p.Rise, 1), Fall: max(p.Fall, 1), LastOK: p.Last.OK, LastAt: p.LastAt}
		if p.Last.Err != nil {
			pr.LastError = p.Last.Err.Error()
		}
		if !p.LastAt.IsZero() {
			pr.LastMs = float64(p.Last.Duration.Microseconds()) / 1000
		}
		sr.Probes = append(sr.Probes, pr)
	}
	return sr
}

// why says why the shard was chosen or passed over at the chain's last
// name, whose query is q.
func why(svc *model.Service, sh *model.Shard, sr *ShardReport, q *answer.Query, fam answer.Family, res *answer.Result, last answer.Name, edge *float64) string {
	if res.FailOpen {
		if sr.Chosen {
			return "named by fail-open: no shard is usable, so every shard with an address is named, closest first"
		}
		if !sh.HasAddress() {
			return "no load-balancer address"
		}
		return answer.NoFamily.String()
	}
	switch skip := answer.Consider(sh, fam, q); skip {
	case answer.NotUsable:
		return "not usable: " + unusable(sh, sr)
	case answer.OtherLevel:
		return "outside " + levelName(last)
	case answer.Candidate:
	default:
		return skip.String()
	}
	if sr.Chosen {
		return chosenWhy(svc, sr, res, q)
	}
	p := &svc.Policy
	switch res.Policy {
	case policy.Failover:
		return "a candidate further down the failover list " + strconv.Quote(strings.Join(p.Failover, ",")) + ", or farther within its entry"
	case policy.Weighted:
		if sr.Weight != nil && *sr.Weight == 0 {
			return "weight 0"
		}
		return "a candidate not drawn for this query (weighted)"
	case policy.RoundRobin:
		return "a candidate not at its turn for this query (roundrobin)"
	}
	if res.Spilled && len(res.Shards) > 0 && sh.Degraded {
		return "the closest candidate, but degraded: spill moved this query to the next one"
	}
	if edge != nil && sr.DistanceKm != nil && *sr.DistanceKm <= *edge {
		return "a candidate as close as the chosen: clusters equally far are ordered by a hash of the client's network, so each network sticks to one"
	}
	return fmt.Sprintf("a candidate farther than the %d chosen (shards %d)", len(res.Shards), max(p.Shards, 1))
}

// chosenWhy says why a chosen shard was named.
func chosenWhy(svc *model.Service, sr *ShardReport, res *answer.Result, q *answer.Query) string {
	rank := "named"
	if sr.Rank > 0 {
		rank = "named " + ordinal(sr.Rank)
	}
	switch res.Policy {
	case policy.Failover:
		return rank + " by the failover list " + strconv.Quote(strings.Join(svc.Policy.Failover, ","))
	case policy.Weighted:
		return rank + " by a weighted draw"
	case policy.RoundRobin:
		return rank + ": its turn (roundrobin)"
	}
	switch {
	case res.Spilled && sr.Rank == 1:
		return rank + ": spill moved this query here from the degraded closest shard"
	case q.Level != answer.Global:
		return rank + ": every usable shard at this level is named, in cluster name order"
	case !q.Loc.Known:
		return rank + ": the client has no location; regions in the default order, then cluster names"
	case sr.DistanceKm == nil:
		return rank + ": its cluster has no location, so it comes after every located one"
	}
	return rank + ": the closest usable (" + km(*sr.DistanceKm) + ")"
}

// unusable says why a shard that is not usable is not.
func unusable(sh *model.Shard, sr *ShardReport) string {
	switch {
	case !sh.Cluster.State.Usable():
		return "its cluster is " + sh.Cluster.State.String()
	case !sh.HasAddress():
		return "no load-balancer address"
	case sh.Detached():
		return "its route is attached to no Programmed Gateway"
	case sh.Probed && !sh.ProbeUp:
		return "its probe fails on every address"
	case sr.Passive != nil && sr.Passive.Raw && !sr.Passive.Up:
		return "enough endpoints ready again since " + sr.Passive.Since.UTC().Format(time.RFC3339) + ", waiting for rise"
	case len(sr.Backends) > 0:
		return "a backend Service has too few ready endpoints"
	}
	return fmt.Sprintf("too few ready endpoints (%d of %d)", sh.Ready, sh.Total)
}

func levelName(nm answer.Name) string {
	switch nm.Level {
	case answer.Zone:
		return "zone " + nm.Zone + " of region " + nm.Region
	case answer.Region:
		return "region " + nm.Region
	}
	return "the federation"
}

func ordinal(n int) string {
	switch n {
	case 1:
		return "first"
	case 2:
		return "second"
	case 3:
		return "third"
	}
	return strconv.Itoa(n) + "th"
}

func km(d float64) string { return strconv.FormatFloat(d, 'f', 0, 64) + " km" }

// Reply reports a reply: each record in presentation form on one line
// (the OPT record too), single spaces between fields.
func Reply(m *dns.Msg) ReplyReport {
	if m == nil {
		return ReplyReport{Rcode: "no reply"}
	}
	return ReplyReport{Rcode: dns.RcodeToString[m.Rcode], Authoritative: m.Authoritative, Truncated: m.Truncated,
		Answer: rrs(m.Answer), Authority: rrs(m.Ns), Additional: rrs(m.Extra)}
}

func rrs(in []dns.RR) []string {
	out := make([]string, 0, len(in))
	for _, rr := range in {
		s := rr.String()
		if _, ok := rr.(*dns.OPT); ok {
			s = strings.Join(strings.Fields(strings.ReplaceAll(s, ";; OPT PSEUDOSECTION:", "OPT")), " ")
		}
		out = append(out, strings.ReplaceAll(s, "\t", " "))
	}
	return out
}

// verdictOther is the verdict for a name that is not a service or host.
func verdictOther(r *Report) string {
	switch r.Kind {
	case "nxdomain":
		return r.Question.Name + " does not exist in the zone: NXDOMAIN"
	case "empty_non_terminal":
		return r.Question.Name + " exists with no records (a name above others): NODATA"
	case "apex", "nameserver":
		return r.Question.Name + " is the zone's " + r.Kind + ": answered from the Corefile's settings, " + r.Reply.Rcode
	}
	return r.Reply.Rcode
}

// verdict says in one line what the answer is and why.
func verdict(r *Report, in Input) string {
	d := r.Decision
	what := r.Question.Type + " " + strings.TrimSuffix(r.Question.Name, ".")
	who := "for " + r.Question.Client
	if !r.Client.Known {
		who += " (location unknown)"
	}
	var b strings.Builder
	b.WriteString(what + " " + who + ": ")
	last := r.Chain[len(r.Chain)-1]
	if len(r.Chain) > 1 {
		fmt.Fprintf(&b, "no usable shard at the %s level, so a CNAME up to the %s name; ", r.Chain[0].Level, last.Level)
	}
	named := d.Chosen
	switch in.Question.Type {
	case dns.TypeA:
		if d.A != nil {
			named = d.A
		}
	case dns.TypeAAAA:
		if d.AAAA != nil {
			named = d.AAAA
		}
	}
	switch {
	case d.Alias:
		fmt.Fprintf(&b, "CNAME to the load-balancer hostname of %s", d.Chosen[0])
	case len(r.Reply.Answer) == 0:
		b.WriteString("no records of this type (NODATA)")
	case d.FailOpen:
		fmt.Fprintf(&b, "FAILING OPEN to every shard with an address (%s): none is usable", strings.Join(named, ", "))
	case len(named) > 0:
		fmt.Fprintf(&b, "%s by %s", strings.Join(named, ", "), d.Policy)
		for _, s := range r.Shards {
			if s.Cluster == named[0] && s.Rank == 1 && s.DistanceKm != nil {
				fmt.Fprintf(&b, ", %s away", km(*s.DistanceKm))
			}
		}
	default:
		b.WriteString(r.Reply.Rcode)
	}
	n := 0
	for _, s := range r.Shards {
		if s.Usable {
			n++
		}
	}
	fmt.Fprintf(&b, "; %d of %d shards usable; TTL %d, ECS scope /%d", n, len(r.Shards), r.TTL, r.ECSScope)
	return b.String()
}
