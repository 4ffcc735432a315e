package meridian

import (
	"errors"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	coreplugin "github.com/coredns/coredns/plugin"
)

// FuzzCorefile feeds the meridian block's parser any block body (issue
// 16, item 6): it never panics, and a block it refuses gets an error that
// names the line, as CoreDNS prints it ("Testfile:N - Error during
// parsing: ..."), never a bare one.
func FuzzCorefile(f *testing.F) {
	for _, body := range []string{
		"federation f",
		"federation f\nrole resolver\nlocal_cluster c\nupstream 127.0.0.1:53\nmanifests /tmp",
		"federation f\nttl 30\ndegraded_ttl 5\necs_scope widened\nfastpath 2",
		"federation f\npolicy failover\nfailover eu, us",
		"federation f\nprobe http://x/healthz 200\nprobe_interval 5s\nprobe_timeout 10s",
		"federation f\ncluster eu region=europe-west1 zone=europe-west1-b\nhost_rule shop.example.com shop",
		"federation f\nns ns1.example.com 192.0.2.1 ::1\nstatus 127.0.0.1:8053",
		"federation f\nrrl 20\nrrl_slip 3\nrrl_exempt 10.0.0.0/8\nrrl_prefix 24 56\nrrl_log_only",
		"federation f\nrrl_nxdomains 5",
		"federation svc",
		"policy weighted",
	} {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		c := caddy.NewTestController("dns", "meridian example.com {\n"+body+"\n}")
		_, err := parse(c)
		if err == nil || errors.Is(err, coreplugin.ErrOnce) {
			return
		}
		if !strings.Contains(err.Error(), "Error during parsing") {
			t.Fatalf("an error that names no line: %v", err)
		}
	})
}
