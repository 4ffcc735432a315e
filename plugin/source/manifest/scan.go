package manifest

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// racyWindow is how long after a file's modification time a rewrite could
// leave both its size and its modification time unchanged: coarse file
// system timestamps (FAT has 2 s, some network file systems 1 s) and writes
// landing in the same tick. While any file of a cluster is that young, the
// cluster is re-read on every poll and compared by content hash, as Git does
// for "racily clean" index entries.
const racyWindow = 2 * time.Second

// fileStat is what a poll learns about one file without reading it.
type fileStat struct {
	name    string
	size    int64
	modTime int64 // Unix nanoseconds
}

// hidden reports whether a folder entry is skipped: dot files, editor
// backups, and the "..data" and "..<timestamp>" entries Kubernetes puts in
// ConfigMap volumes.
func hidden(name string) bool { return strings.HasPrefix(name, ".") }

// manifestFile reports whether name is a file a cluster folder is read from.
func manifestFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// listClusters returns the names of the folders directly in dir, sorted,
// and apart the folders whose names cannot name a cluster (refused): a
// cluster's name reaches metric labels, which must be UTF-8. Symbolic
// links are followed; dangling links and other entries are skipped.
func listClusters(dir string) (names, refused []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		if hidden(e.Name()) {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		switch {
		case err != nil || !fi.IsDir():
		case !utf8.ValidString(e.Name()):
			refused = append(refused, e.Name())
		default:
			names = append(names, e.Name())
		}
	}
	return names, refused, nil
}

// statFiles returns the manifest files directly in a cluster folder,
// sorted by name, following symbolic links.
func statFiles(dir string) ([]fileStat, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []fileStat
	for _, e := range entries {
		if hidden(e.Name()) || !manifestFile(e.Name()) {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil || !fi.Mode().IsRegular() {
			continue // dangling link, removed since ReadDir, or a folder
		}
		files = append(files, fileStat{name: e.Name(), size: fi.Size(), modTime: fi.ModTime().UnixNano()})
	}
	return files, nil
}

// racy reports whether a rewrite of one of files after readAt could have
// gone unseen by a stat comparison.
func racy(files []fileStat, readAt time.Time) bool {
	limit := readAt.Add(-racyWindow).UnixNano()
	for _, f := range files {
		if f.modTime > limit {
			return true
		}
	}
	return false
}

// errVanished means a file was removed between listing and reading; the
// cluster is read again on the next poll.
var errVanished = errors.New("file vanished while reading")

// readFiles reads files from dir and hashes their names and contents. A
// file that cannot be read is kept with its error (hashed by its text), so
// it is reported once and not on every poll.
func readFiles(dir string, files []fileStat) ([]fileData, [sha256.Size]byte, error) {
	h := sha256.New()
	out := make([]fileData, 0, len(files))
	for _, f := range files {
		fd := fileData{path: filepath.Join(dir, f.name)}
		fd.data, fd.err = os.ReadFile(fd.path)
		if errors.Is(fd.err, fs.ErrNotExist) {
			return nil, [sha256.Size]byte{}, errVanished
		}
		content := fd.data
		if fd.err != nil {
			content = []byte("read error: " + fd.err.Error())
		}
		for _, b := range [][]byte{[]byte(f.name), content} {
			h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b))))
			h.Write(b)
		}
		out = append(out, fd)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return out, sum, nil
}
