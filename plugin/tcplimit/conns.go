package tcplimit

import (
	"container/list"
	"errors"
	"net"
	"sync"
	"time"
)

// serve accepts connections until the listener closes. At the cap, it
// closes the connection that has been quiet longest (no reply written
// since it was accepted or since its last reply) to make room: an idle
// or slow connection, before one that is being answered. While no
// instance is bound, a connection is reset at once.
func (l *Listener) serve(ln *net.TCPListener) {
	defer l.done.Done()
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, or the like: the cap is what
			// keeps this away, but do not spin.
			log.Warningf("tcp cap on %s: accept: %v", l.addr, err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if p := l.probe.Load(); p != nil {
			p.see(c.RemoteAddr())
		}
		b := l.cur.Load()
		if b == nil {
			reset(c)
			continue
		}
		for l.open.Load() >= l.max.Load() {
			if !l.evict() {
				break
			}
		}
		b.give(l.track(c))
	}
}

// reset closes c with a reset: nothing is kept for it (no TIME_WAIT).
func reset(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

// track counts c under the cap, as the most recently active.
func (l *Listener) track(c *net.TCPConn) *conn {
	tc := &conn{TCPConn: c, l: l}
	l.lruMu.Lock()
	tc.elem = l.lru.PushBack(tc)
	l.lruMu.Unlock()
	l.open.Add(1)
	l.conns.Inc()
	return tc
}

// evict resets the connection quiet longest; false if there is none.
func (l *Listener) evict() bool {
	l.lruMu.Lock()
	e := l.lru.Front()
	l.lruMu.Unlock()
	if e == nil {
		return false
	}
	tc := e.Value.(*conn)
	tc.TCPConn.SetLinger(0)
	tc.Close()
	l.evicted.Inc()
	return true
}

// conn is an accepted connection. A reply written to it makes it the
// most recently active; closing it frees its place under the cap, once.
type conn struct {
	*net.TCPConn
	l    *Listener
	elem *list.Element // in l.lru; nil once closed
	once sync.Once
}

func (c *conn) Write(b []byte) (int, error) {
	c.l.lruMu.Lock()
	if c.elem != nil {
		c.l.lru.MoveToBack(c.elem)
	}
	c.l.lruMu.Unlock()
	return c.TCPConn.Write(b)
}

func (c *conn) Close() error {
	err := c.TCPConn.Close()
	c.once.Do(func() {
		c.l.lruMu.Lock()
		c.l.lru.Remove(c.elem)
		c.elem = nil
		c.l.lruMu.Unlock()
		c.l.open.Add(-1)
		c.l.conns.Dec()
	})
	return err
}

// Open is the number of connections the listener holds now.
