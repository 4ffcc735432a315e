package resolver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/meridian-dns/meridian/plugin/answer"
	"github.com/meridian-dns/meridian/plugin/dnsmsg"
	"github.com/meridian-dns/meridian/plugin/model"
	"github.com/meridian-dns/meridian/plugin/upstream"
)

// Serve answers a query in one of the resolver's zones:
//
//   - a global service name, or its kube form (<svc>.<ns>.<fed>.svc.<cluster
//     domain>), whatever the type: from the local cluster when its shard is
//     healthy (see answer.Local), else with a CNAME to the local zone's
//     name, chased through the upstream servers. The decision is made once
//     per name, so the name is a CNAME for every type or for none;
//   - a host of Ingresses or routes (answer.FindHost), whatever the type:
//     the local Ingress's or Gateway's load-balancer addresses while the
//     local host shard is healthy (answer.LocalHost), else the
//     authoritative servers' answer;
//   - any other name in the federated zone: forwarded unchanged;
//   - an SRV name of the kube form: a CNAME to the global SRV name, chased;
//     any other name of the kube-form zone: NODATA or NXDOMAIN.
func (r *Resolver) Serve(ctx context.Context, w dns.ResponseWriter, query dnsmsg.Query) {
	req, zone, opt, ecs := query.Req, query.Zone, query.OPT, query.ECS
	q := req.Question[0]
	qname := dnsmsg.Lower(q.Name)
	kube := zone == r.kubeZone
	origin := zone
	if kube {
		origin = r.cfg.ClusterDomain
	}
	nm := answer.Parse(qname, origin, r.fed)
	global := nm.Level == answer.Global && (nm.Kind == answer.Service || nm.Kind == answer.SRV)
	switch {
	case kube && !global:
		w.WriteMsg(r.kubeNegative(req, nm, opt, ecs))
		return
	case !global:
		if h := r.findHost(qname); h != nil {
			r.host(ctx, w, req, h, opt, ecs)
			return
		}
		r.forward(ctx, w, req)
		return
	case nm.Kind != answer.Service:
		if kube {
			// An SRV name: the global name's answer, as forwarding would
			// give it, behind a CNAME; not counted as a local or remote
			// answer, as forwarded questions are not.
			r.remote(ctx, w, req, nil, answer.Remote(nm, nil, r.fed, r.domain), opt, ecs)
			return
		}
		r.forward(ctx, w, req)
		return
	}
	ls, cluster := r.lookup(model.Key{Namespace: nm.Namespace, Name: nm.Service})
	counted := ls != nil && localType(q.Qtype) // only address questions are counted
	if ls != nil && ls.why.Local() {
		if counted {
			ls.local.Inc()
		}
		w.WriteMsg(r.local(req, nm, ls.shard, opt, ecs))
		return
	}
	origin = zone
	if kube {
		origin = r.domain
	}
	if counted {
		ls.remote.Inc()
	}
	targets := answer.Remote(nm, cluster, r.fed, origin)
	if !kube && len(targets) == 1 {
		// No topology to narrow the answer to: the global name itself is
		// the authority's to answer.
		r.forward(ctx, w, req)
		return
	}
	r.remote(ctx, w, req, ls, targets, opt, ecs)
}

// findHost returns the host of Ingresses or routes at qname, or nil.
func (r *Resolver) findHost(qname string) *model.Service {
	idx := r.index.Load()
	if idx == nil {
		return nil
	}
	h, _ := answer.FindHost(idx.snap, qname)
	return h
}

// host answers a host of Ingresses or routes: from the local shard while
// answer.LocalHost says so, else with the authoritative servers' answer
// (served for one second when it still names the local shard the
// resolver has seen fail, as for a service).
func (r *Resolver) host(ctx context.Context, w dns.ResponseWriter, req *dns.Msg, h *model.Service, opt *dns.OPT, ecs *dns.EDNS0_SUBNET) {
	sh, why := answer.LocalHost(h, r.cfg.Cluster)
	if why.Local() {
		w.WriteMsg(r.localHost(req, sh, opt, ecs))
		return
	}
	if req.Question[0].Qtype == dns.TypeCNAME {
		r.forward(ctx, w, req)
		return
	}
	r.remote(ctx, w, req, &localService{shard: sh, why: why}, []string{req.Question[0].Name}, opt, ecs)
}

// localHost answers from the local host shard sh: a CNAME to its
// load-balancer hostname for every type when it has no IP address (as the
// authority answers such a shard), else its addresses of the question's
// family, and NODATA for other types.
func (r *Resolver) localHost(req *dns.Msg, sh *model.Shard, opt *dns.OPT, ecs *dns.EDNS0_SUBNET) *dns.Msg {
	lr := new(localReply)
	resp := lr.Reply(req)
	resp.RecursionAvailable = true
	q := req.Question[0]
	hdr := dns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: dns.ClassINET, Ttl: r.cfg.LocalTTL}
	switch {
	case !sh.HasIP():
		lr.cname = *dnsmsg.CNAME(q.Name, sh.Hostname, r.cfg.LocalTTL)
		resp.Answer = append(resp.Answer, &lr.cname)
	case q.Qtype == dns.TypeA:
		for _, ip := range sh.IP4 {
			rr := lr.NewA()
			rr.Hdr, rr.A = hdr, ip
			resp.Answer = append(resp.Answer, rr)
		}
	case q.Qtype == dns.TypeAAAA:
		for _, ip := range sh.IP6 {
			rr := lr.NewAAAA()
			rr.Hdr, rr.AAAA = hdr, ip
			resp.Answer = append(resp.Answer, rr)
		}
	}
	if opt != nil {
		resp.Extra = append(resp.Extra, lr.ReplyOPT(opt, ecs, 0))
	}
	return resp
}

// localType reports whether the resolver answers qtype for a service name
// itself: addresses, and CNAME (which asks whether there is one).
func localType(qtype uint16) bool {
	return qtype == dns.TypeA || qtype == dns.TypeAAAA || qtype == dns.TypeCNAME
}

// localReply is room for a local answer: one allocation per query.
type localReply struct {
	dnsmsg.Arena
	cname dns.CNAME
}

// local answers from the local shard: its cluster IPs of the question's
// family at the question's name, or, with local_answer cname, a CNAME to
// the Service's cluster name followed by the cluster IPs there. A family
// the Service has no cluster IP of, and any other type, gets NODATA (after
// the CNAME, which every type gets in cname mode).
func (r *Resolver) local(req *dns.Msg, nm answer.Name, sh *model.Shard, opt *dns.OPT, ecs *dns.EDNS0_SUBNET) *dns.Msg {
	lr := new(localReply)
	resp := lr.Reply(req)
	resp.RecursionAvailable = true
	q := req.Question[0]
	owner, ttl := q.Name, r.cfg.LocalTTL
	if r.cfg.LocalCNAME {
		lr.cname = *dnsmsg.CNAME(owner, nm.Service+"."+nm.Namespace+r.clusterSvc, ttl)
		resp.Answer = append(resp.Answer, &lr.cname)
		owner = lr.cname.Target
	}
	switch q.Qtype {
	case dns.TypeA, dns.TypeAAAA:
		hdr := dns.RR_Header{Name: owner, Rrtype: q.Qtype, Class: dns.ClassINET, Ttl: ttl}
		for _, ip := range sh.ClusterIPs {
			switch {
			case q.Qtype == dns.TypeA && len(ip) == 4:
				rr := lr.NewA()
				rr.Hdr, rr.A = hdr, ip
				resp.Answer = append(resp.Answer, rr)
			case q.Qtype == dns.TypeAAAA && len(ip) == 16:
				rr := lr.NewAAAA()
				rr.Hdr, rr.AAAA = hdr, ip
				resp.Answer = append(resp.Answer, rr)
			}
		}
	}
	if opt != nil {
		resp.Extra = append(resp.Extra, lr.ReplyOPT(opt, ecs, 0))
	}
	return resp
}

// remote answers with a CNAME from the question's name to the first of
// targets that the upstream servers know, followed by their answer for it:
// the whole chain and the final addresses in one reply, as a recursive
// resolver would give. A target the upstream answers NXDOMAIN for (a zone
// or region it has no cluster in) gives way to the next, wider one. A
// CNAME question gets the CNAME alone.
func (r *Resolver) remote(ctx context.Context, w dns.ResponseWriter, req *dns.Msg, ls *localService, targets []string, opt *dns.OPT, ecs *dns.EDNS0_SUBNET) {
	q := req.Question[0]
	if q.Qtype == dns.TypeCNAME {
		resp := chainReply(req, r.cname(q.Name, targets[0]), nil)
		if opt != nil {
			resp.Extra = append(resp.Extra, new(dnsmsg.OPTRoom).ReplyOPT(opt, ecs, 0))
		}
		w.WriteMsg(resp)
		return
	}
	target, sub, reply, err := r.chase(ctx, req, targets, opt, ecs)
	if err != nil {
		resolverUpstreamErrors.Inc()
		r.log.Debugf("query %s: %v", q.Name, err)
		w.WriteMsg(upstream.ServFail(req, err))
		return
	}
	if ls != nil && ls.why == answer.LocalUnhealthy && namesShard(reply, ls.shard) {
		// The authority has not seen the local shard fail yet (it watches
		// the same API server from afar, through its own hysteresis): its
		// answer is out of date. Serve it for one second, and ask again
		// next time.
		resolverStaleAnswers.Inc()
		r.up.Forget(sub)
		capTTL(reply, 1)
	}
	var resp *dns.Msg
	if strings.EqualFold(target, q.Name) {
		// The widest target is the question itself: no CNAME to itself,
		// the authority's answer as it is.
		resp = chainReply(req, nil, reply)
		resp.Authoritative = reply.Authoritative
	} else {
		resp = chainReply(req, r.cname(q.Name, target), reply)
	}
	if opt != nil {
		scope := uint8(0)
		if e := dnsmsg.SubnetOf(reply); e != nil && ecs != nil {
			scope = e.SourceScope
		}
		resp.Extra = append(resp.Extra, new(dnsmsg.OPTRoom).ReplyOPT(opt, ecs, scope))
	}
	w.WriteMsg(resp)
}

// chase asks the upstream servers for req's type at each of targets in
// turn, until one is not NXDOMAIN (the last one always counts), and
// returns that target, the query sent for it and the reply. A reply other
// than NOERROR or NXDOMAIN is an error, as is no reply at all.
func (r *Resolver) chase(ctx context.Context, req *dns.Msg, targets []string, opt *dns.OPT, ecs *dns.EDNS0_SUBNET) (string, *dns.Msg, *dns.Msg, error) {
	q := req.Question[0]
	sub := &dns.Msg{Question: []dns.Question{{Qtype: q.Qtype, Qclass: q.Qclass}}}
	sub.Id = req.Id
	sub.CheckingDisabled = req.CheckingDisabled
	// Always EDNS upstream, so that a long chain comes over UDP; the reply
	// to the client is cut to its own size by CoreDNS.
	sub.SetEdns0(dnsmsg.UDPSize, opt != nil && opt.Do())
	if ecs != nil {
		o := sub.IsEdns0()
		o.Option = append(o.Option, ecs)
	}
	for i, t := range targets {
		sub.Question[0].Name = t
		reply, err := r.up.Exchange(ctx, sub)
		switch {
		case err != nil:
			return "", nil, nil, err
		case reply.Rcode == dns.RcodeNameError && i < len(targets)-1:
			continue
		case reply.Rcode != dns.RcodeSuccess && reply.Rcode != dns.RcodeNameError:
			return "", nil, nil, fmt.Errorf("upstream answered %s for %s", dns.RcodeToString[reply.Rcode], t)
		}
		return t, sub, reply, nil
	}
	return "", nil, nil, errors.New("no target") // targets is never empty
}

// chainReply is the reply to req that starts with first (nil: none) and
// goes on with reply's records (nil: none) and rcode, without reply's OPT
// record.
func chainReply(req *dns.Msg, first dns.RR, reply *dns.Msg) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative, resp.RecursionAvailable = false, true
	if first != nil {
		resp.Answer = []dns.RR{first}
	}
	if reply != nil {
		resp.Rcode = reply.Rcode
		resp.Answer = append(resp.Answer, reply.Answer...)
		resp.Ns = reply.Ns
		for _, rr := range reply.Extra {
			if rr.Header().Rrtype != dns.TypeOPT {
				resp.Extra = append(resp.Extra, rr)
			}
		}
	}
	return resp
}

func (r *Resolver) cname(owner, target string) *dns.CNAME {
	return dnsmsg.CNAME(owner, target, r.cfg.LocalTTL)
}

// forward sends req to the upstream servers unchanged and writes their
// reply, or SERVFAIL with an Extended DNS Error when none answered.
func (r *Resolver) forward(ctx context.Context, w dns.ResponseWriter, req *dns.Msg) {
	resolverForwards.Inc()
	reply, err := r.up.Exchange(ctx, req)
	if err != nil {
		resolverUpstreamErrors.Inc()
		r.log.Debugf("query %s: %v", req.Question[0].Name, err)
		reply = upstream.ServFail(req, err)
	}
	w.WriteMsg(reply)
}

// kubeNegative answers a name of the kube-form zone that is not a service
// name: NODATA for the names above services (the zone's apex and its
// namespaces, which exist wherever a service does), NXDOMAIN for the rest,
// with the zone's SOA for negative caching.
func (r *Resolver) kubeNegative(req *dns.Msg, nm answer.Name, opt *dns.OPT, ecs *dns.EDNS0_SUBNET) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative, resp.RecursionAvailable = true, true
	if nm.Kind != answer.Node || !nm.Federated || nm.Level != answer.Global {
		resp.Rcode = dns.RcodeNameError
	}
	resp.Ns = []dns.RR{dnsmsg.SOA(r.kubeZone, "ns.dns."+r.cfg.ClusterDomain, "hostmaster."+r.cfg.ClusterDomain, 1, r.cfg.LocalTTL)}
	if opt != nil {
		resp.Extra = append(resp.Extra, new(dnsmsg.OPTRoom).ReplyOPT(opt, ecs, 0))
	}
	return resp
}

// namesShard reports whether reply's answer names one of sh's load-balancer
// addresses or its hostname.
func namesShard(reply *dns.Msg, sh *model.Shard) bool {
	if sh == nil {
		return false
	}
	for _, rr := range reply.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			for _, ip := range sh.IP4 {
				if ip.Equal(rr.A) {
					return true
				}
			}
		case *dns.AAAA:
			for _, ip := range sh.IP6 {
				if ip.Equal(rr.AAAA) {
					return true
				}
			}
		case *dns.CNAME:
			if sh.Hostname != "" && strings.EqualFold(rr.Target, sh.Hostname) {
				return true
			}
		}
	}
	return false
}

// capTTL lowers every TTL of m's records (OPT aside) to at most ttl.
func capTTL(m *dns.Msg, ttl uint32) {
	for _, s := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range s {
			if h := rr.Header(); h.Rrtype != dns.TypeOPT {
				h.Ttl = min(h.Ttl, ttl)
			}
		}
	}
}
