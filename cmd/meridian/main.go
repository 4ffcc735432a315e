// Command meridian is CoreDNS with the meridian plugin compiled in. Every
// stock CoreDNS plugin is still available; meridian runs after the plugins
// that shape requests (cache, rewrite, acl, any, ...) and before the ones
// that answer from other data (kubernetes, file, forward, ...).
package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/core/plugin" // every stock CoreDNS plugin
	"github.com/coredns/coredns/coremain"

	_ "github.com/meridian-dns/meridian/plugin" // the meridian directive
)

// anchor is the stock directive meridian is placed before.
const anchor = "kubernetes"

func main() {
	if err := addDirective(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	coremain.Run()
}

// addDirective puts meridian into CoreDNS's plugin order.
func addDirective() error {
	if slices.Contains(dnsserver.Directives, "meridian") {
		return nil
	}
	i := slices.Index(dnsserver.Directives, anchor)
	if i < 0 {
		return fmt.Errorf("meridian: directive %q not found in CoreDNS's plugin order", anchor)
	}
	dnsserver.Directives = slices.Insert(dnsserver.Directives, i, "meridian")
	return nil
}
