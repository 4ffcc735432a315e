package status

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-dns/meridian/plugin/model"
)

//go:embed page.html
var pageFS embed.FS

// page is the status page's template. html/template escapes every value
// for its context: names and annotation values from member clusters are
// never markup.
var page = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"age":   age,
	"stamp": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"join":  strings.Join,
	"trim":  func(s string) string { return strings.TrimSuffix(s, ".") },
	"label": label,
	"class": class,
}).ParseFS(pageFS, "page.html"))

// PageSize is how many services and hosts one page lists.
const PageSize = 100

// most bounds the lists of problems and conflicts on one page.
const most = 100

// view is what the template reads.
type view struct {
	Overview
	Ix       *Index
	Clusters []clusterRow
	Rows     []Entry
	Matched  int // entries the filter matched
	Page     int // 1-based
	Pages    int
	Filter   string
	Only     string // "", "unhealthy"
	Prev     string // links, "" when none
	Next     string
	Problems []problemRow
	MoreProb int
	Conflict []string
	MoreConf int
}

type clusterRow struct {
	C      *model.Cluster
	In     model.Intake
	Count  ClusterCount
	Err    *SourceError
	Synced string
}

type problemRow struct {
	What     string
	Problems []string
}

// params are the page's query parameters.
type params struct {
	page   int
	filter string
	only   string
}

func parseParams(q url.Values) params {
	p := params{page: 1, filter: q.Get("q"), only: q.Get("only")}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 0 {
		p.page = n
	}
	if len(p.filter) > 253 {
		p.filter = p.filter[:253]
	}
	if p.only != "unhealthy" {
		p.only = ""
	}
	return p
}

func (p params) link(page int) string {
	v := url.Values{}
	v.Set("page", strconv.Itoa(page))
	if p.filter != "" {
		v.Set("q", p.filter)
	}
	if p.only != "" {
		v.Set("only", p.only)
	}
	return "?" + v.Encode()
}

// render writes the page of ov (indexed by ix, nil before the first
// snapshot) for the parameters p.
func render(w io.Writer, ov Overview, ix *Index, p params) error {
	v := view{Overview: ov, Ix: ix, Filter: p.filter, Only: p.only}
	if snap := ov.Snapshot; snap != nil {
		for i, c := range snap.Clusters {
			r := clusterRow{C: c, Count: ix.Clusters[i]}
			if i < len(snap.Intake) {
				r.In = snap.Intake[i]
			}
			if e, ok := ov.Errors[c.Name]; ok {
				r.Err = &e
			}
			if !r.In.Synced.IsZero() {
				r.Synced = age(ov.Now, r.In.Synced)
			}
			v.Clusters = append(v.Clusters, r)
		}
		var only func(State) bool
		if p.only != "" {
			only = func(s State) bool { return s != Healthy }
		}
		rows := ix.Filter(p.filter, only)
		v.Matched = len(rows)
		v.Pages = max(1, (len(rows)+PageSize-1)/PageSize)
		v.Page = min(p.page, v.Pages)
		lo := (v.Page - 1) * PageSize
		v.Rows = rows[lo:min(lo+PageSize, len(rows))]
		if v.Page > 1 {
			v.Prev = p.link(v.Page - 1)
		}
		if v.Page < v.Pages {
			v.Next = p.link(v.Page + 1)
		}
		v.Problems, v.MoreProb = problems(ix)
		for i, c := range snap.Conflicts {
			if i == most {
				v.MoreConf = len(snap.Conflicts) - most
				break
			}
			v.Conflict = append(v.Conflict, c.String())
		}
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, &v); err != nil {
		return err
	}
	_, err := w.Write(showControls(buf.Bytes()))
	return err
}

// showControls returns page with every control character but tab, newline
// and carriage return written as \xHH. html/template escapes markup, not
// these: an ANSI escape or a DEL in a name from a member cluster would
// reach the page raw. The template itself holds none.
func showControls(page []byte) []byte {
	out := make([]byte, 0, len(page))
	for _, c := range page {
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
			out = fmt.Appendf(out, `\x%02x`, c)
			continue
		}
		out = append(out, c)
	}
	return out
}

// problems lists the services and hosts with annotation problems, at most
// most of them, and how many more there are.
func problems(ix *Index) ([]problemRow, int) {
	var out []problemRow
	more := 0
	for i := range ix.Entries {
		e := &ix.Entries[i]
		if len(e.Svc.Problems) == 0 {
			continue
		}
		if len(out) == most {
			more++
			continue
		}
		r := problemRow{What: e.Kind() + " " + e.Name()}
		for _, pb := range e.Svc.Problems {
			r.Problems = append(r.Problems, pb.Annotation+"="+strconv.Quote(pb.Value)+": "+pb.Err.Error())
		}
		out = append(out, r)
	}
	return out, more
}

// age says how long ago t was, from now, rounded for a person.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return d.Round(100*time.Millisecond).String() + " ago"
	case d < time.Hour:
		return d.Round(time.Second).String() + " ago"
	}
	return d.Round(time.Minute).String() + " ago"
}
