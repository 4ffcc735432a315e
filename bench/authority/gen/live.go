package main

import (
	"fmt"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/geo/widen"
	"github.com/meridian-dns/meridian/plugin/dnsmsg"
)

// live asks each server in addrs for name(0) A with the ECS option of
// each of the benchmark's sampled client networks, and reports the
// scopes each returned (median and histogram) and, for every server after
// the first, the share of clients it answered as the first did: the
// scopes on the answer path, measured, not computed.
func live(db string, addrs []string, v6 bool) error {
	sample, err := sampleNetworks(db, 20_000, v6)
	if err != nil {
		return err
	}
	c := &dns.Client{Timeout: 2 * time.Second}
	var first []string
	for i, addr := range addrs {
		scopes := make([]int, 0, len(sample))
		answers := make([]string, 0, len(sample))
		for _, p := range sample {
			m := new(dns.Msg)
			m.SetQuestion(name(0), dns.TypeA)
			m.SetEdns0(1232, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, dnsmsg.Subnet(p))
			r, _, err := c.Exchange(m, addr)
			if err != nil {
				return fmt.Errorf("%s: %v", addr, err)
			}
			scope, answer := -1, ""
			if o := r.IsEdns0(); o != nil {
				for _, e := range o.Option {
					if s, ok := e.(*dns.EDNS0_SUBNET); ok {
						scope = int(s.SourceScope)
					}
				}
			}
			for _, rr := range r.Answer {
				if a, ok := rr.(*dns.A); ok {
					answer += a.A.String() + " "
				}
			}
			scopes, answers = append(scopes, scope), append(answers, answer)
		}
		line := fmt.Sprintf("%-22s median /%d  %s", addr, median(scopes), widen.Histogram(scopes))
		if i == 0 {
			first = answers
		} else {
			same := 0
			for j := range answers {
				if answers[j] == first[j] {
					same++
				}
			}
			line += fmt.Sprintf("  same answer as %s: %d of %d (%.2f%%)", addrs[0], same, len(answers), 100*float64(same)/float64(len(answers)))
		}
		fmt.Println(line)
	}
	return nil
}
