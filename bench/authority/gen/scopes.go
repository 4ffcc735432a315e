package main

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/meridian-dns/meridian/geo"
	"github.com/meridian-dns/meridian/geo/widen"
)

// scopes reports the ECS scopes Meridian returns today for the benchmark's
// client networks (the database network's length, at most /24) next to
// the widened ones (package widen), for the benchmark's three locations
// and for ten regions.
func scopes(db string) error {
	nets, err := cityNetworks(db, false)
	if err != nil {
		return err
	}
	sample, err := sample(nets, 20_000, db, false)
	if err != nil {
		return err
	}
	var three []geo.Point
	for _, dc := range dcs {
		p, _ := geo.Region(dc.region)
		three = append(three, p)
	}
	var ten []geo.Point
	for _, r := range geo.Regions()[:10] {
		p, _ := geo.Region(r)
		ten = append(ten, p)
	}
	today := make([]int, len(sample))
	for i, s := range sample {
		today[i] = min(dbBits(nets, s.Addr()), 24)
	}
	fmt.Printf("%d IPv4 networks in the database, %d client networks sampled (at most /24)\n", len(nets), len(sample))
	fmt.Printf("today (the database network):  median /%d  %s\n", median(today), widen.Histogram(today))
	for _, set := range []struct {
		name  string
		locs  []geo.Point
		limit int
	}{{"3 regions (the benchmark's)", three, 0}, {"10 regions, whole order", ten, 0}, {"10 regions, first 3", ten, 3}} {
		o := widen.NewOrders(set.locs, set.limit)
		m := widen.Merge(nets, o)
		wide := make([]int, len(sample))
		for i, s := range sample {
			w, _ := m.Lookup(s.Addr())
			wide[i] = min(w.Prefix.Bits(), today[i])
		}
		v4, _ := m.Len()
		fmt.Printf("widened, %-30s median /%d  %s  (%d networks, %d orders)\n", set.name+":", median(wide), widen.Histogram(wide), v4, o.Len())
	}
	return nil
}

// cityNetworks returns the IPv4 (or IPv6) networks of a City database
// that hold data, with their coordinates, in address order.
func cityNetworks(path string, v6 bool) ([]widen.Network, error) {
	nets, closeDB, err := geo.Networks(path)
	if err != nil {
		return nil, err
	}
	defer closeDB()
	var out []widen.Network
	for n := range nets {
		if n.Prefix.Addr().Is6() == v6 {
			out = append(out, n)
		}
	}
	return out, nil
}

// dbBits returns the length of the database network that holds a.
func dbBits(nets []widen.Network, a netip.Addr) int {
	i, found := slices.BinarySearchFunc(nets, a, func(n widen.Network, a netip.Addr) int { return n.Prefix.Addr().Compare(a) })
	if found {
		return nets[i].Prefix.Bits()
	}
	if i > 0 && nets[i-1].Prefix.Contains(a) {
		return nets[i-1].Prefix.Bits()
	}
	return 24
}

func median(v []int) int {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
