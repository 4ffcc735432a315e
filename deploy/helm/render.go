// Package helm renders the Meridian chart (deploy/helm/meridian) with the
// Helm SDK, for the tests that check it: what a `helm install` would apply,
// without a helm binary.
package helm

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

//go:embed all:meridian
var chartFS embed.FS

// Render renders the chart for a release name in namespace with values
// over the chart's own, and returns the manifests by template path, in
// path order, empty ones left out.
func Render(name, namespace string, values map[string]any) ([]Manifest, error) {
	var files []*loader.BufferedFile
	err := fs.WalkDir(chartFS, "meridian", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := chartFS.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, &loader.BufferedFile{Name: strings.TrimPrefix(p, "meridian/"), Data: b})
		return nil
	})
	if err != nil {
		return nil, err
	}
	chrt, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	vals, err := chartutil.ToRenderValues(chrt, values, chartutil.ReleaseOptions{Name: name, Namespace: namespace, IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	out, err := engine.Render(chrt, vals)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	var ms []Manifest
	for p, text := range out {
		if path.Ext(p) == ".yaml" && strings.TrimSpace(text) != "" {
			ms = append(ms, Manifest{Path: p, Text: text})
		}
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Path < ms[j].Path })
	return ms, nil
}

// Manifest is one rendered template.
type Manifest struct {
	Path string // "meridian/templates/deployment.yaml"
	Text string
}
