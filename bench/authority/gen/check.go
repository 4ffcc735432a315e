package main

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/dnsmsg"
)

// check asks addr for the first name from each check network and fails
// unless every answer names the check network's data center.
func check(addr string) error {
	c := &dns.Client{Timeout: 2 * time.Second}
	var bad []string
	for _, cn := range checkNets {
		m := new(dns.Msg)
		m.SetQuestion(name(0), dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option, dnsmsg.Subnet(netip.MustParsePrefix(cn.net)))
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			return err
		}
		var got []string
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				got = append(got, a.A.String())
			}
		}
		fmt.Printf("%s %s\n", cn.net, strings.Join(got, ","))
		if len(got) != 1 || got[0] != cn.addr {
			bad = append(bad, fmt.Sprintf("%s: %v, want %s", cn.net, got, cn.addr))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s: %s", addr, strings.Join(bad, "; "))
	}
	return nil
}
