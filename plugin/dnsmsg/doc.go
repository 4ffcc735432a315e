// Package dnsmsg holds what both of Meridian's roles need to read a query
// and write a reply, written once: the checks of a query's OPT record and
// client-subnet option, the OPT record of a reply, room for a reply's
// records without allocating (Arena), the SOA and CNAME records, and the
// trimming of additional records that do not fit.
package dnsmsg
