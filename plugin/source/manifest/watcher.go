package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"k8s.io/apimachinery/pkg/labels"
	"path/filepath"
	"slices"
	"time"

	"github.com/meridian-dns/meridian/health"
	"github.com/meridian-dns/meridian/internal/logging"
	"github.com/meridian-dns/meridian/plugin/source"
)

// watcher is the state of one Run. Only the Run goroutine uses it.
type watcher struct {
	dir      string
	sink     source.Sink
	log      logging.Logger
	now      func() time.Time
	selector labels.Selector
	onConfig func(error) // Options.OnConfig
	clusters map[string]*cluster
	// rootErr is the last error listing dir, logged once until it clears.
	rootErr string
	// refused are the folders whose names cannot name a cluster, each
	// logged once while it is there.
	refused map[string]bool
}

// cluster is what the watcher remembers about one cluster folder.
type cluster struct {
	lastPoll folderStat // the stat of the folder at the previous poll
	polled   bool       // lastPoll is set
	statErr  string     // the last error listing the folder, logged once
	files    folderStat // the stat of the folder when last read
	readAt   time.Time  // when its files were last read
	fp       uint64     // fingerprint of what was last decoded
	read     bool       // files, readAt and fp are set
	known    bool       // the sink has the cluster (Update was called)
}

// poll compares the folder with what was last seen and tells the sink
// about every difference.
func (w *watcher) poll(initial bool) {
	names, refused, err := listClusters(w.dir)
	w.onConfig(err)
	if err != nil {
		// Keep serving what was read: a folder that vanishes for a moment
		// (an unmounted volume) must not empty the federation.
		if err.Error() != w.rootErr {
			w.rootErr = err.Error()
			w.log.Warningf("manifest: cannot list %s, keeping the last state: %v", w.dir, err)
		}
		return
	}
	if w.rootErr != "" {
		w.rootErr = ""
		w.log.Infof("manifest: %s can be listed again", w.dir)
	}
	w.refuse(refused)
	for name, c := range w.clusters {
		if _, found := slices.BinarySearch(names, name); !found {
			delete(w.clusters, name)
			if c.known {
				w.sink.Remove(name)
				w.log.Infof("manifest: cluster %q removed", name)
			}
		}
	}
	for _, name := range names {
		w.sync(name, initial)
	}
}

// refuse logs each folder of names that it is not read, once while it
// stays.
func (w *watcher) refuse(names []string) {
	for name := range w.refused {
		if !slices.Contains(names, name) {
			delete(w.refused, name)
		}
	}
	for _, name := range names {
		if !w.refused[name] {
			w.refused[name] = true
			w.log.Warningf("manifest: folder %q is not read: a cluster name must be UTF-8", name)
		}
	}
}

// sync reads one cluster folder again if it may have changed, and applies
// it if its contents did. Except in the initial poll, a folder whose file
// list changed since the previous poll is left alone for one more poll, so
// a file being written in place is not read half-written.
func (w *watcher) sync(name string, initial bool) {
	c := w.clusters[name]
	if c == nil {
		c = &cluster{}
		w.clusters[name] = c
	}
	dir := filepath.Join(w.dir, name)
	files, err := statFolder(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && err.Error() != c.statErr {
			w.log.Warningf("manifest: cluster %q: cannot list %s: %v", name, dir, err)
		}
		c.statErr = err.Error() // try again next poll
		return
	}
	c.statErr = ""
	settled := initial || (c.polled && files.equal(c.lastPoll))
	c.lastPoll, c.polled = files, true
	unchanged := c.read && files.equal(c.files)
	switch {
	case unchanged && !racy(files.files, c.readAt):
		return // nothing new
	case !unchanged && !settled:
		return // being written: read it once it has settled
	}
	readAt := w.now()
	data, sum, err := readFiles(dir, files.files)
	if errors.Is(err, errVanished) {
		return // a rename in progress: try again next poll
	}
	// A change of time alone (a file touched, a backup file come and gone)
	// is applied too: the SOA serial follows the time, and a restarted
	// replica would read the new one.
	stamp := files.changed()
	fp := fingerprint(sum, stamp)
	changed := !c.read || fp != c.fp
	c.files, c.readAt, c.fp, c.read = files, readAt, fp, true
	if changed {
		d := decodeCluster(data, w.selector)
		d.objs.Changed, d.objs.Fingerprint = stamp, fp
		w.apply(name, c, d)
	}
}

// apply reports the problems found in a cluster's files and, unless a file
// was malformed, replaces the cluster in the sink.
func (w *watcher) apply(name string, c *cluster, d *decoded) {
	for _, msg := range d.warnings {
		w.log.Warningf("manifest: cluster %q: %s", name, msg)
	}
	for _, err := range d.malformed {
		w.sink.Error(name, err)
	}
	for _, err := range d.invalid {
		w.sink.Error(name, err)
	}
	if len(d.malformed) > 0 {
		w.log.Warningf("manifest: cluster %q: %d malformed file(s), keeping the last good state", name, len(d.malformed))
		return
	}
	d.objs.Synced = w.now()
	d.objs.Invalid = len(d.invalid)
	w.sink.Update(name, source.Fixed(d.objs))
	if c.known {
		w.log.Infof("manifest: cluster %q reloaded: %s", name, summary(d))
		return
	}
	c.known = true
	w.sink.SetState(name, health.Up)
	w.log.Infof("manifest: cluster %q added: %s", name, summary(d))
}

// summary describes what a cluster holds, for the log.
func summary(d *decoded) string {
	return fmt.Sprintf("%d nodes, %d services, %d endpoint slices, %d objects skipped",
		len(d.objs.Nodes), len(d.objs.Services), len(d.objs.Endpoints), len(d.invalid))
}
