package policy

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestDocs checks that the docs list the settings as the table does: the
// README's Syntax block and its list of the lines, and docs/health.md's
// table. A failure prints the text to paste.
func TestDocs(t *testing.T) {
	for _, d := range []struct{ file, want string }{
		{"../README.md", syntaxLines()},
		{"../README.md", readmeList()},
		{"../../docs/health.md", healthTable()},
	} {
		b, err := os.ReadFile(d.file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), d.want) {
			t.Errorf("%s does not hold the settings as Settings has them; want this block:\n%s", d.file, d.want)
		}
	}
}

// syntaxLines renders the settings' lines of the README's Syntax block.
func syntaxLines() string {
	var b strings.Builder
	for _, s := range Settings() {
		b.WriteString("    " + s.CorefileForm() + "\n")
	}
	return b.String()
}

// readmeList renders the README's list of the settings' lines.
func readmeList() string {
	var b strings.Builder
	for _, s := range Settings() {
		form := strings.TrimPrefix(s.CorefileForm(), s.Corefile+" ")
		item := fmt.Sprintf("* `%s` **%s** (annotation `%s`): %s. Values: %s.", s.Corefile, form, s.Annotation, s.Doc, s.Want)
		if s.Roles&Resolver != 0 {
			item += " The resolver role reads it too."
		}
		b.WriteString(wrap(item, 100, "  "))
	}
	return b.String()
}

// healthTable renders docs/health.md's table of the settings.
func healthTable() string {
	var b strings.Builder
	b.WriteString("| annotation (`meridian.dev/`) | Corefile line | values | meaning |\n|---|---|---|---|\n")
	for _, s := range Settings() {
		meaning := s.Doc
		if s.Roles&Resolver != 0 {
			meaning += "; the resolver role reads it too"
		}
		row := []string{"`" + s.Annotation + "`", "`" + s.CorefileForm() + "`", s.Want, meaning}
		for i, c := range row {
			row[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	return b.String()
}

// wrap breaks s into lines of at most width bytes at spaces, the lines
// after the first indented.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent + w
			continue
		}
		if line != "" && line != indent {
			line += " "
		}
		line += w
	}
	b.WriteString(line + "\n")
	return b.String()
}
