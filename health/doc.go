// Package health decides whether member clusters and their service shards
// can be used in answers: rise/fall hysteresis (Hysteresis), the passive
// signal of ready endpoints (Passive) and active TCP, HTTP and HTTPS probes
// of load-balancer addresses (Prober). It imports neither CoreDNS nor
// client-go; its callers pass in a clock, a logger and a
// prometheus.Registerer.
//
// The rules (the verdict, rise and fall, the first results, how probes are
// made and scheduled) and the reasons for them are told in docs/health.md.
package health
