package manifest

import (
	"crypto/sha256"
	"encoding/binary"
	"hash/fnv"
	"os"
	"slices"
	"time"
)

// folderStat is what a poll learns about one cluster folder without reading
// its files: the folder's own modification time (it moves when a file is
// added, removed or renamed in it) and the stat of its manifest files.
type folderStat struct {
	modTime int64 // Unix nanoseconds
	files   []fileStat
}

// statFolder stats a cluster folder and its manifest files. The folder is
// stated first, so a file added meanwhile shows up at the latest on the
// next poll, with the folder's new time.
func statFolder(dir string) (folderStat, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return folderStat{}, err
	}
	files, err := statFiles(dir)
	if err != nil {
		return folderStat{}, err
	}
	return folderStat{modTime: fi.ModTime().UnixNano(), files: files}, nil
}

func (f folderStat) equal(g folderStat) bool {
	return f.modTime == g.modTime && slices.Equal(f.files, g.files)
}

// changed is the newest change time the folder shows: the newest of its own
// modification time and its files'. It is what a cluster's SOA serial is
// derived from (source.Objects.Changed): a file written or removed, or the
// folder renamed into place, moves it, and every replica that reads the
// same folder sees the same time.
func (f folderStat) changed() time.Time {
	newest := f.modTime
	for _, fs := range f.files {
		newest = max(newest, fs.modTime)
	}
	return time.Unix(0, newest)
}

// fingerprint mixes the content hash of a cluster's files with its change
// time in whole seconds (the serial's unit), so that it moves with either.
// It is never 0, which source.Objects reserves for "unknown".
func fingerprint(sum [sha256.Size]byte, changed time.Time) uint64 {
	h := fnv.New64a()
	h.Write(sum[:])
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(changed.Unix())))
	return max(h.Sum64(), 1)
}
