// Package manifest is a source.Source that reads member clusters from
// Kubernetes manifests in a folder: the embedded default that runs with no
// API server at all, and the demo federation.
//
// # Layout
//
// Every folder directly in the root folder is one member cluster, named
// after the folder. The files *.yaml, *.yml and *.json directly in a cluster
// folder are read in name order; each may hold several YAML documents
// separated by "---", a stream of JSON objects, and "kind: List" objects
// with items. The kinds read are v1 Node, v1 Service and discovery.k8s.io/v1
// EndpointSlice; other kinds are ignored. Names that start with a dot are
// skipped (so are the "..data" entries of a ConfigMap volume), and so are
// files directly in the root folder and folders nested deeper. A Service or
// EndpointSlice without a namespace is in "default", as kubectl would put it.
//
// Objects are decoded as the API server decodes them: field names are
// case-sensitive and a YAML syntax error, a duplicate YAML key, a value of
// the wrong type, or an unknown apiVersion for a kind that is read makes the
// file malformed; unknown fields are logged as warnings and ignored.
//
// # Errors
//
// A malformed file keeps its whole cluster at its last good state: the
// cluster is not replaced until the file is fixed, and Sink.Error gets an
// error naming the file that wraps source.ErrMalformed. An object that
// decodes but cannot be converted (kubeobj.FromService and friends), or that
// repeats the kind, namespace and name of an earlier one, is skipped and
// reported with an error wrapping source.ErrInvalid; the rest of its cluster
// is applied. Each problem is reported once per change of the cluster's
// files, not on every poll.
//
// # Watching
//
// The folder is polled, not watched with inotify (fsnotify), on purpose:
// editors that save by writing a new file and renaming it over the old one,
// and Kubernetes ConfigMap volumes that publish a new version by swapping a
// "..data" symbolic link, both replace the inode being watched. A watch on
// a file then goes silent, and a watch on a folder sees only the link
// change, not the files behind it, so it must be re-armed by hand after
// every rename. A poll follows symbolic links and sees the new files
// whatever way they arrived, costs a few stat calls per Interval, and works
// on every file system, network ones included.
//
// Each poll lists the cluster folders and stats them and their files
// (names, sizes, modification times). A cluster whose stat differs from the
// last one read is read again and hashed (SHA-256 of names and contents)
// once the stat has stayed the same for one poll, so a file written in
// place is not read half-written (an edit is therefore seen one to two
// Intervals after it is saved; a file written more slowly than that should
// be written aside and renamed into place). The cluster is decoded and
// replaced only if the hash or its change time (below) changed. A stat comparison alone misses a
// rewrite that keeps the size within the file system's timestamp
// granularity, so a cluster that has a file modified less than 2 s before
// it was last read is also re-read and hashed on every poll until its files
// are older than that (Git's "racily clean" rule). Reading every file on
// every poll would be simpler but costs reads proportional to the folder
// size forever; this way reads happen only around changes.
//
// # Change time
//
// A cluster's objects carry the newest modification time of its folder and
// files (source.Objects.Changed, from which the SOA serial is derived) and
// a fingerprint of their content and that time. A change of time alone (a
// file touched, a file added and removed) is applied like a change of
// content, so that a running replica and one started afresh on the same
// folder agree.
package manifest

import (
	"context"
	"errors"
	"fmt"
	"k8s.io/apimachinery/pkg/labels"
	"sync/atomic"
	"time"

	"github.com/meridian-dns/meridian/internal/clock"
	"github.com/meridian-dns/meridian/internal/logging"
	"github.com/meridian-dns/meridian/plugin/source"
)

// DefaultInterval is the poll period when Options.Interval is zero.
const DefaultInterval = 250 * time.Millisecond

// Errors returned by Run.
var (
	// ErrNoFolder means the manifest folder does not exist, is not a
	// folder, or cannot be listed.
	ErrNoFolder = errors.New("no manifest folder")
)

// Options configures a Source. The zero value is ready to use.
type Options struct {
	// Interval is the poll period. Zero means DefaultInterval (250 ms).
	Interval time.Duration
	// Logger receives what the source has to say that is not an error about
	// an object: clusters added, reloaded and removed, ignored fields, a
	// root folder that cannot be listed. Nil discards it.
	Logger logging.Logger
	// Clock stamps Objects.Synced and is compared with file modification
	// times, so it should be the wall clock of the file system. Nil means
	// the system clock.
	Clock clock.Clock
	// Selector picks the federated Services and Ingresses; the others are
	// counted in Objects.Ignored. Nil picks every one.
	Selector labels.Selector
	// OnConfig, if set, is called after each listing of the folder with
	// its error: nil when it was listed, else the error for which the
	// last state is kept.
	OnConfig func(error)
}

// Source reads member clusters from a manifest folder. It holds only its
// configuration: every Run starts from an empty state.
type Source struct {
	dir      string
	interval time.Duration
	log      logging.Logger
	now      func() time.Time
	selector labels.Selector
	onConfig func(error)
	synced   atomic.Bool
}

var _ source.Source = (*Source)(nil)

// New returns a Source for the manifest folder dir. Nothing is read until
// Run.
func New(dir string, opts Options) *Source {
	s := &Source{dir: dir, interval: opts.Interval, log: logging.OrNop(opts.Logger), now: clock.Or(opts.Clock).Now, selector: opts.Selector, onConfig: opts.OnConfig}
	if s.onConfig == nil {
		s.onConfig = func(error) {}
	}
	if s.interval <= 0 {
		s.interval = DefaultInterval
	}
	return s
}

// HasSynced reports whether Run has loaded the folder once, so that every
// cluster in it has been sent to the sink (or reported as malformed).
func (s *Source) HasSynced() bool { return s.synced.Load() }

// Run loads every cluster into sink at once, then polls the folder every
// Interval and sends what changed, until ctx is done; then it returns nil.
// It returns an error wrapping ErrNoFolder at once when the folder cannot
// be listed. Each Run starts from an empty state.
func (s *Source) Run(ctx context.Context, sink source.Sink) error {
	if _, _, err := listClusters(s.dir); err != nil {
		return fmt.Errorf("manifest folder %s: %w: %w", s.dir, ErrNoFolder, err)
	}
	w := &watcher{dir: s.dir, sink: sink, log: s.log, now: s.now, selector: s.selector, onConfig: s.onConfig, clusters: make(map[string]*cluster), refused: make(map[string]bool)}
	w.poll(true)
	s.synced.Store(true)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			w.poll(false)
		}
	}
}
