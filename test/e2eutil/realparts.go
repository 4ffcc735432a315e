package e2eutil

import (
	"debug/buildinfo"
	"os"
	"strings"
	"testing"
)

// RequireRealParts skips the test, saying why, when a real part it needs (a
// tool, a binary, real API servers, root) is missing. Under CI (the CI
// environment variable set to anything but "" or "false") it fails instead:
// a suite that skips what it was meant to prove must not print ok.
func RequireRealParts(t testing.TB, why string) {
	t.Helper()
	if underCI() {
		t.Fatalf("under CI a real-parts test may not skip: %s", why)
	}
	t.Skip(why)
}

// underCI reports whether the tests run under CI.
func underCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

// raceMark starts every report of Go's race detector.
const raceMark = "WARNING: DATA RACE"

// checkRaces fails t if a process's output holds a race detector report.
func checkRaces(t testing.TB, what, out string) {
	t.Helper()
	if i := strings.Index(out, raceMark); i >= 0 {
		t.Errorf("%s: %d data race report(s) in its output; the first:\n%s", what, strings.Count(out, raceMark), firstReport(out[i:]))
	}
}

// firstReport cuts a race report at its closing line of '=' signs.
func firstReport(s string) string {
	if end := strings.Index(s, "\n=================="); end >= 0 {
		return s[:end]
	}
	return s
}

// raceBuilt reports whether the Go binary at path was built with -race.
func raceBuilt(path string) bool {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// RaceBuilt reports whether the binary at path was built with -race.
func RaceBuilt(path string) bool { return raceBuilt(path) }
