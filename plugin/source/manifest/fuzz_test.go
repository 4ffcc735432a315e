package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/meridian-dns/meridian/plugin/source"
)

// FuzzDecode feeds the manifest decoder any file (issue 16, item 6): it
// never panics, and whatever it cannot read is an error that wraps
// source.ErrMalformed and names the file, while what it can read is kept.
// The seeds are the demo's files.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "demo", "*", "*.yaml"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(filepath.Ext(p), b)
		}
	}
	f.Add(".json", []byte(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Node","metadata":{"name":"n"}}]}`))
	f.Add(".yaml", []byte("apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: y}\nspec: {clusterIP: 10.0.0.1}\n---\n- 1\n"))
	f.Fuzz(func(t *testing.T, ext string, data []byte) {
		if ext != ".json" {
			ext = ".yaml"
		}
		d := decodeCluster([]fileData{{path: "fuzz" + ext, data: data}}, nil)
		for _, err := range d.malformed {
			if !errors.Is(err, source.ErrMalformed) {
				t.Fatalf("an error that does not wrap ErrMalformed: %v", err)
			}
		}
	})
}
