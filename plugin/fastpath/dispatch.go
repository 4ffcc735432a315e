package fastpath

import (
	"fmt"
	"reflect"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/miekg/dns"
)

// Shadows reads how srv, the CoreDNS server of an address, dispatches
// names to its server blocks (the longest zone a name is in wins), and
// returns, for each zone in zones (Meridian's, all served by the block of
// config ours), the zones of other blocks under it: a name in one of those
// goes to that block, not to ours. A zone of zones that is missing from
// the result never reaches our block alone: another block has a zone
// between it and our block's, or shares our block's zone (views).
//
// CoreDNS keeps the table unexported (dnsserver.Server's zones); it is
// read, never written, with reflect. An error means the field is not what
// this code knows, and the fast path must stay off.
func Shadows(srv *dnsserver.Server, ours *dnsserver.Config, zones []string) (map[string][]string, error) {
	table, err := serverZones(srv, ours)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, z := range zones {
		best, bestOurs := "", false // the longest key z is in
		var under []string
		for key, isOurs := range table {
			switch {
			case dns.IsSubDomain(key, z):
				if best == "" || dns.CountLabel(key) > dns.CountLabel(best) {
					best, bestOurs = key, isOurs
				}
			case dns.IsSubDomain(z, key) && !isOurs:
				under = append(under, key)
			}
		}
		if best != "" && bestOurs {
			out[z] = under
		}
	}
	return out, nil
}

// serverZones reads srv's dispatch table: each zone, and whether our
// block's config is the only one it holds.
func serverZones(srv *dnsserver.Server, ours *dnsserver.Config) (map[string]bool, error) {
	v := reflect.ValueOf(srv).Elem().FieldByName("zones")
	if v.Kind() != reflect.Map || v.Type().Key().Kind() != reflect.String ||
		v.Type().Elem() != reflect.TypeFor[[]*dnsserver.Config]() {
		return nil, fmt.Errorf("fastpath: dnsserver.Server has no zones map of configs (CoreDNS changed): %v", v.Kind())
	}
	plugins := reflect.ValueOf(ours.Plugin).Pointer()
	table := map[string]bool{}
	for it := v.MapRange(); it.Next(); {
		cfgs := it.Value()
		one := cfgs.Len() == 1
		if one {
			c := cfgs.Index(0).Elem()
			// Configs of one block share its Plugin slice
			// (dnsserver's propagateConfigParams).
			one = c.FieldByName("Plugin").Pointer() == plugins && c.FieldByName("FilterFuncs").Len() == 0
		}
		table[it.Key().String()] = one
	}
	return table, nil
}
