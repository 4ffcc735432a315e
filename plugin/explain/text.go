package explain

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteText writes the report for a person: the verdict, the client, the
// name and its policy, the chain, a table of the shards and the reply
// (meridianctl explain).
func (r *Report) WriteText(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("%s\n\n", r.Verdict)
	c := r.Client
	switch {
	case c.Known:
		p("client\t%s, at %.2f, %.2f (GeoIP network %s, ECS scope /%d)", r.Question.Client, c.Latitude, c.Longitude, c.Network, c.Scope)
	default:
		p("client\t%s, location unknown: %s", r.Question.Client, c.Unknown)
	}
	if r.Service != nil && !c.Used {
		p("; not used at this level")
	}
	p("\n")
	if r.Snapshot != nil {
		p("snapshot\tserial %d, built %s\n", r.Snapshot.Serial, r.Snapshot.Built.UTC().Format("2006-01-02 15:04:05Z"))
	}
	if s := r.Service; s != nil {
		what := "service " + s.Namespace + "/" + s.Name
		if s.Host != "" {
			what = "host " + strings.TrimSuffix(s.Host, ".") + " of " + s.Namespace + "/" + s.Name
		}
		pol := s.Policy
		p("name\t%s, %s level\n", what, r.Name.Level)
		p("policy\t%s, shards %d, min_ready %d", pol.Kind, pol.Shards, pol.MinReady)
		if pol.MinReadyFraction > 0 {
			p(", min_ready_fraction %g", pol.MinReadyFraction)
		}
		if pol.Spill > 0 {
			p(", spill %g", pol.Spill)
		}
		if len(pol.Failover) > 0 {
			p(", failover %s", strings.Join(pol.Failover, ","))
		}
		p(", probe %s, rise %d, fall %d\n", pol.Probe, pol.Rise, pol.Fall)
		for _, pb := range s.Problems {
			p("problem\t%s\n", pb)
		}
	}
	for _, st := range r.Chain {
		p("chain\t%s (%s): %d candidates: %s\n", strings.TrimSuffix(st.Name, "."), st.Level, st.Candidates, st.Result)
	}
	if len(r.Shards) > 0 {
		p("\nCLUSTER\tREGION\tDISTANCE\tSTATE\tREADY\tHEALTH\tCHOSEN\tWHY\n")
		for _, s := range r.Shards {
			dist := "-"
			if s.DistanceKm != nil {
				dist = km(*s.DistanceKm)
			}
			health := "down"
			switch {
			case s.Usable && s.Degraded:
				health = "degraded"
			case s.Usable:
				health = "usable"
			}
			for _, pr := range s.Probes {
				if !pr.Up {
					health += ", probe " + pr.Target + " down"
				}
			}
			chosen := "-"
			if s.Chosen {
				chosen = "#" + strconv.Itoa(s.Rank)
			}
			p("%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", s.Cluster, s.Region, dist, s.ClusterState, s.Ready, s.Total, health, chosen, s.Why)
		}
	}
	p("\nreply %s, TTL %d, ECS scope /%d\n", r.Reply.Rcode, r.TTL, r.ECSScope)
	for _, sec := range []struct {
		name string
		rrs  []string
	}{{"answer", r.Reply.Answer}, {"authority", r.Reply.Authority}, {"additional", r.Reply.Additional}} {
		for _, rr := range sec.rrs {
			p("  %s\t%s\n", sec.name, rr)
		}
	}
	return w.Flush()
}
