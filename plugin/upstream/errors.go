package upstream

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
)

// Errors of New and Exchange wrap one of these.
var (
	// ErrConfig is returned (wrapped) by New for an invalid Config.
	ErrConfig = errors.New("upstream: invalid config")
	// ErrMetrics is returned (wrapped) by New when a metric cannot be
	// registered for a reason other than being registered already.
	ErrMetrics = errors.New("upstream: cannot register metrics")
	// ErrRequest is returned (wrapped) by Exchange for a request that is
	// not a query with exactly one question, or cannot be packed.
	ErrRequest = errors.New("upstream: invalid request")
	// ErrUnreachable is wrapped by the *Error of an Exchange in which no
	// server gave a usable reply.
	ErrUnreachable = errors.New("upstream: no server answered")
	// ErrMismatch is a reply whose ID, question, opcode or client subnet
	// does not match the query's, or that is not a response.
	ErrMismatch = errors.New("reply does not match the query")
	// ErrMalformed is a reply that cannot be parsed.
	ErrMalformed = errors.New("malformed reply")
)

// Error is the error of an Exchange in which no server gave a usable
// reply. errors.Is finds ErrUnreachable in it, and each attempt's error.
type Error struct {
	// Attempts has one entry per configured server, in the order they were
	// tried; servers the time budget left no room for come last.
	Attempts []Attempt
}

// Attempt is how one server failed.
type Attempt struct {
	// Server is the server's address, as in Config.Servers.
	Server string
	// Err says why it gave no usable reply.
	Err error
}

// Error lists every server and its failure.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(ErrUnreachable.Error())
	for i, a := range e.Attempts {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(a.Server)
		b.WriteString(": ")
		b.WriteString(a.Err.Error())
	}
	return b.String()
}

// Unwrap returns ErrUnreachable and the attempts' errors.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 1+len(e.Attempts))
	errs = append(errs, ErrUnreachable)
	for _, a := range e.Attempts {
		errs = append(errs, a.Err)
	}
	return errs
}

// noReachableAuthority reports whether nothing answered at all: every
// server timed out, refused the connection or could not be reached.
func (e *Error) noReachableAuthority() bool {
	for _, a := range e.Attempts {
		if !unreached(a.Err) {
			return false
		}
	}
	return len(e.Attempts) > 0
}

// unreached reports whether err says the server was not reached: a
// timeout, a refused connection, an unreachable host or network. A bad
// reply means it was reached, even if the attempt then timed out.
func unreached(err error) bool {
	if badReply(err) {
		return false
	}
	return timedOut(err) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH)
}

// timedOut reports whether err is a deadline: of an attempt, of Total or
// of the caller's ctx. A cancelled ctx is not one.
func timedOut(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// badReply reports whether err says a reply came but could not be used.
func badReply(err error) bool {
	return errors.Is(err, ErrMismatch) || errors.Is(err, ErrMalformed)
}

// failResult is the result label of a failed attempt.
func failResult(err error) string {
	if !badReply(err) && timedOut(err) {
		return resultTimeout
	}
	return resultError
}
