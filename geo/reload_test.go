package geo

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-dns/meridian/internal/promtest"
)

func TestReload(t *testing.T) {
	path := copyTestDB(t)
	reg := prometheus.NewRegistry()
	log := &testLogger{}
	l := newLocator(t, Config{Path: path, Registerer: reg, Logger: log})
	taipeiClient := prefix("27.0.1.2/32")

	expect := func(step string, place Point, ok, errs float64) {
		t.Helper()
		if got := l.Locate(taipeiClient); !got.Known || !near(got.Point, place) {
			t.Errorf("%s: Locate(%s) = %+v, want %s", step, taipeiClient, got, pointString(place))
		}
		promtest.Check(t, reg, map[string]float64{
			"meridian_geoip_reloads_total{result=ok}":    ok,
			"meridian_geoip_reloads_total{result=error}": errs,
		})
	}
	steps := []struct {
		name    string
		change  func()
		wantErr error
		place   Point
		ok      float64 // reloads_total{result="ok"} after the step
		errs    float64 // reloads_total{result="error"} after the step
	}{
		{"unchanged file", func() {}, nil, taipei, 0, 0},
		{"new database by rename", func() { writeFile(t, path, variantDB(t)) }, nil, sydney, 1, 0},
		{"same file again", func() {}, nil, sydney, 1, 0},
		{"garbage written in place", func() {
			if err := os.WriteFile(path, []byte("garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
			bumpModTime(t, path)
		}, ErrOpen, sydney, 1, 1},
		{"file removed", func() {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, ErrOpen, sydney, 1, 2},
		{"original database back", func() {
			data, err := os.ReadFile(testDB)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, path, data)
		}, nil, taipei, 2, 2},
	}
	for _, s := range steps {
		// Fill the cache from the current database first.
		l.Locate(taipeiClient)
		okBefore := promtest.Values(t, reg)["meridian_geoip_reloads_total{result=ok}"]
		s.change()
		err := l.Reload()
		if !errors.Is(err, s.wantErr) || (s.wantErr == nil) != (err == nil) {
			t.Errorf("%s: Reload() = %v, want %v", s.name, err, s.wantErr)
		}
		switch swapped, n := s.ok > okBefore, l.cache.Len(); {
		case swapped && n != 0:
			t.Errorf("%s: cache holds %d entries after a reload, want 0", s.name, n)
		case !swapped && n == 0:
			t.Errorf("%s: cache purged though the database was kept", s.name)
		}
		expect(s.name, s.place, s.ok, s.errs)
		// Info tells the database in use, and the failure that kept it.
		in := l.Info()
		if in.Path != path || in.Type == "" || in.Built.IsZero() || in.Size == 0 || in.Loaded.IsZero() ||
			(in.ReloadError != "") != (err != nil) || (err != nil && in.ReloadErrorAt.IsZero()) {
			t.Errorf("%s: Info = %+v after Reload() = %v", s.name, in, err)
		}
	}
	if infos, _ := log.counts(); infos != 3 { // load, two reloads
		t.Errorf("logged %d infos, want 3: %q", infos, log.infos)
	}
}

func TestReloadPoller(t *testing.T) {
	path := copyTestDB(t)
	log := &testLogger{}
	reg := prometheus.NewPedanticRegistry()
	l := newLocator(t, Config{Path: path, Reload: 5 * time.Millisecond, Logger: log, Registerer: reg})
	l.Start()
	l.Start() // a second Start does nothing
	client := prefix("27.0.1.2/32")

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	writeFile(t, path, variantDB(t))
	waitFor("the variant database", func() bool { return near(l.Locate(client).Point, sydney) })

	// A broken file is reported once, however many polls see it. (Renamed
	// into place: a poll must not catch it half written.)
	writeFile(t, path, []byte("garbage"))
	waitFor("a warning", func() bool { _, w := log.counts(); return w > 0 })
	// Every poll that reads the broken file counts a failed reload.
	waitFor("ten polls of the broken file", func() bool {
		return promtest.Values(t, reg)["meridian_geoip_reloads_total{result=error}"] >= 10
	})
	if _, w := log.counts(); w != 1 {
		t.Errorf("logged %d warnings for one broken file, want 1: %q", w, log.warnings)
	}
	if got := l.Locate(client); !near(got.Point, sydney) {
		t.Errorf("after a broken file: Locate = %+v, want the variant's answer", got)
	}
	// Other garbage with the same error is another broken file: reported
	// once more, however many polls see it.
	errs := promtest.Values(t, reg)["meridian_geoip_reloads_total{result=error}"]
	writeFile(t, path, []byte("other garbage, same error"))
	waitFor("a second warning", func() bool { _, w := log.counts(); return w > 1 })
	waitFor("ten polls of the second broken file", func() bool {
		return promtest.Values(t, reg)["meridian_geoip_reloads_total{result=error}"] >= errs+10
	})
	if _, w := log.counts(); w != 2 {
		t.Errorf("logged %d warnings for two broken files, want 2: %q", w, log.warnings)
	} else if log.warnings[0] != log.warnings[1] {
		t.Logf("the two files' errors differ: %q", log.warnings)
	}
	if got := l.Locate(client); !near(got.Point, sydney) {
		t.Errorf("after a second broken file: Locate = %+v, want the variant's answer", got)
	}

	l.Stop()
	l.Stop()
	if err := l.Reload(); !errors.Is(err, ErrStopped) {
		t.Errorf("Reload after Stop = %v, want ErrStopped", err)
	}
	want := Location{Net: prefix("0.0.0.0/0")}
	if got := l.Locate(client); got != want {
		t.Errorf("Locate after Stop = %+v, want %+v", got, want)
	}
	l.Start() // after Stop: does nothing
}

func TestStopWithoutStart(t *testing.T) {
	for _, cfg := range []Config{{}, {Path: testDB}, {Path: testDB, Reload: time.Hour}} {
		t.Run(fmt.Sprintf("path %q reload %s", cfg.Path, cfg.Reload), func(t *testing.T) {
			l, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			l.Stop()
			l.Stop()
		})
	}
}

// TestLocateDuringReload runs lookups from many goroutines while the
// database is swapped back and forth; run it with -race.
func TestLocateDuringReload(t *testing.T) {
	path := copyTestDB(t)
	l := newLocator(t, Config{Path: path, CacheSize: 64})
	original, err := os.ReadFile(testDB)
	if err != nil {
		t.Fatal(err)
	}
	variant := variantDB(t)

	var (
		stop   atomic.Bool
		wg     sync.WaitGroup
		errsMu sync.Mutex
		errs   []string
	)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				// Many /24s so the small cache keeps missing.
				client := netip.PrefixFrom(netip.AddrFrom4([4]byte{27, 0, byte(i + g), 1}), 32)
				got := l.Locate(client)
				if !got.Known || !(near(got.Point, taipei) || near(got.Point, sydney)) {
					errsMu.Lock()
					errs = append(errs, fmt.Sprintf("Locate(%s) = %+v", client, got))
					errsMu.Unlock()
				}
				l.Locate(prefix("2600::1/128"))
			}
		}()
	}
	for i := range 20 {
		data := variant
		if i%2 == 1 {
			data = original
		}
		writeFile(t, path, data)
		if err := l.Reload(); err != nil {
			t.Errorf("reload %d: %v", i, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if len(errs) > 0 {
		t.Errorf("%d bad answers during reloads, first: %s", len(errs), strings.Join(errs[:1], ""))
	}
}
