package geo

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"time"

	"github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"
)

// fileStamp identifies a version of the database file.
type fileStamp struct {
	modTime int64 // Unix nanoseconds
	size    int64
}

// stampOf returns the stamp of the file fi describes.
func stampOf(fi fs.FileInfo) fileStamp {
	return fileStamp{modTime: fi.ModTime().UnixNano(), size: fi.Size()}
}

// Reload reopens the database now if the file's modification time or size
// changed since it was loaded. A new database is swapped in atomically and
// the cache purged; on error the old database stays in use. Without a
// database (Config.Path "") it does nothing. After Stop it returns
// ErrStopped.
func (l *Locator) Reload() error {
	if l.path == "" {
		return nil
	}
	l.reloadMu.Lock()
	defer l.reloadMu.Unlock()
	if l.stopped {
		return ErrStopped
	}
	fi, err := os.Stat(l.path)
	if err != nil {
		return l.failed(fmt.Errorf("%w: %w", ErrOpen, err), fileStamp{})
	}
	if stampOf(fi) == l.stamp {
		return nil
	}
	db, stamp, err := openDatabase(l.path)
	if err != nil {
		return l.failed(err, stampOf(fi))
	}
	l.swap(db)
	l.stamp, l.loaded, l.lastErr = stamp, time.Now(), nil
	l.m.reloadOK.Inc()
	l.log.Infof("geoip: reloaded %s (%s)", l.path, db)
	return nil
}

// failed counts and keeps err, the error of a reload of the file version
// stamp; l.reloadMu is held.
func (l *Locator) failed(err error, stamp fileStamp) error {
	l.m.reloadErr.Inc()
	l.lastErr, l.errAt, l.errStamp = err, time.Now(), stamp
	return err
}

// failure says which failure the latest reload was: its error and the file
// version it read. The same garbage read again is the same failure; other
// garbage with the same error is another.
func (l *Locator) failure() failure {
	l.reloadMu.Lock()
	defer l.reloadMu.Unlock()
	if l.lastErr == nil {
		return failure{}
	}
	return failure{msg: l.lastErr.Error(), stamp: l.errStamp}
}

// failure is one failed reload, as poll tells them apart.
type failure struct {
	msg   string
	stamp fileStamp
}

// swap puts db in place of the current database, purges the cache and
// closes the old database once no lookup can be using it.
func (l *Locator) swap(db *database) {
	l.mu.Lock()
	old := l.db
	l.db = db
	l.cur.Store(db)
	l.cache.Purge()
	l.m.entries.Set(0)
	l.mu.Unlock()
	l.wideMu.Lock()
	l.kickWiden() // the scope table is the old database's
	l.wideMu.Unlock()
	if old != nil {
		_ = old.r.Close() // the readers hold only memory: Close cannot fail
		_ = old.mm.Close()
	}
}

// Start starts a goroutine that calls Reload every Config.Reload. It does
// nothing when Config.Reload is zero, when there is no database, when it
// runs already, or after Stop.
func (l *Locator) Start() {
	if l.interval <= 0 || l.path == "" {
		return
	}
	l.pollMu.Lock()
	defer l.pollMu.Unlock()
	if l.pollStarted || l.pollStopped {
		return
	}
	l.pollStarted = true
	go l.poll()
}

// Stop stops the reload goroutine, waits for it, and closes the database:
// Locate then answers unknown with scope 0, and Reload returns ErrStopped.
// Calling Stop again does nothing.
func (l *Locator) Stop() {
	l.pollMu.Lock()
	if l.pollStopped {
		l.pollMu.Unlock()
		return
	}
	l.pollStopped = true
	started := l.pollStarted
	close(l.pollStop)
	l.pollMu.Unlock()
	if started {
		<-l.pollDone
	}
	if l.path == "" {
		return
	}
	l.reloadMu.Lock()
	defer l.reloadMu.Unlock()
	l.stopped = true
	l.swap(nil)
}

// poll calls Reload on every tick until Stop. A failure is logged when it
// first happens and again only when the error or the file changes: each
// bad version of the file is logged once, however many ticks it stays.
func (l *Locator) poll() {
	defer close(l.pollDone)
	t := time.NewTicker(l.interval)
	defer t.Stop()
	var last failure
	for {
		select {
		case <-l.pollStop:
			return
		case <-t.C:
		}
		err := l.Reload()
		if err == nil {
			last = failure{}
			continue
		}
		if f := l.failure(); f != last {
			l.log.Warningf("geoip: reload failed, keeping the loaded database: %v", err)
			last = f
		}
	}
}

// openDatabase reads the file at path into memory and opens it as a City
// database. Reading rather than mapping the file means a file rewritten in
// place cannot change or truncate a database in use. Errors wrap ErrOpen.
func openDatabase(path string) (*database, fileStamp, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileStamp{}, fmt.Errorf("%w: %w", ErrOpen, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileStamp{}, fmt.Errorf("%w: %w", ErrOpen, err)
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fileStamp{}, fmt.Errorf("%w: read %s: %w", ErrOpen, path, err)
	}
	r, err := geoip2.OpenBytes(data)
	if err != nil {
		return nil, fileStamp{}, fmt.Errorf("%w: %s: %w", ErrOpen, path, err)
	}
	// City works on City, Enterprise and Country databases; anything else
	// (ASN, ISP...) has no location and fails here rather than per query.
	var wrongType geoip2.InvalidMethodError
	if _, err := r.City(netip.IPv4Unspecified()); errors.As(err, &wrongType) {
		_ = r.Close()
		return nil, fileStamp{}, fmt.Errorf("%w: %s: %w", ErrOpen, path, err)
	}
	mm, err := maxminddb.OpenBytes(data)
	if err != nil {
		_ = r.Close()
		return nil, fileStamp{}, fmt.Errorf("%w: %s: %w", ErrOpen, path, err)
	}
	return &database{r: r, mm: mm, size: fi.Size()}, stampOf(fi), nil
}
