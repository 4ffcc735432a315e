package logging_test

import (
	"testing"

	clog "github.com/coredns/coredns/plugin/pkg/log"

	"github.com/meridian-dns/meridian/internal/logging"
)

// CoreDNS's plugin logger is what Meridian passes in production.
var _ logging.Logger = clog.NewWithPlugin("meridian")

type recorder struct{ logging.Nop }

func TestOrNop(t *testing.T) {
	if _, ok := logging.OrNop(nil).(logging.Nop); !ok {
		t.Errorf("OrNop(nil) is %T, want logging.Nop", logging.OrNop(nil))
	}
	r := &recorder{}
	if got := logging.OrNop(r); got != logging.Logger(r) {
		t.Errorf("OrNop(r) = %v, want r", got)
	}
	logging.Nop{}.Debugf("%d", 1) // discards without a panic
}
