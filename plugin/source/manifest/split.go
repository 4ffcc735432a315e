package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// document is one object of a file, converted to JSON.
type document struct {
	n    int // position in the file, counting only documents that hold something
	line int // the line of the file it starts on
	json []byte
}

// documents splits a file into documents: a stream of JSON values for .json
// files, YAML documents separated by "---" lines for the others. Documents
// that hold only blanks and comments are dropped.
func documents(path string, data []byte) ([]document, error) {
	if strings.EqualFold(filepath.Ext(path), ".json") {
		return jsonDocuments(data)
	}
	return yamlDocuments(data)
}

func jsonDocuments(data []byte) ([]document, error) {
	var docs []document
	dec := json.NewDecoder(bytes.NewReader(data))
	for n := 1; ; n++ {
		rest := data[dec.InputOffset():]
		start := len(data) - len(bytes.TrimLeft(rest, " \t\r\n"))
		line := 1 + bytes.Count(data[:start], []byte("\n"))
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return docs, nil
		} else if err != nil {
			return nil, fmt.Errorf("document %d (line %d): %w", n, line, err)
		}
		docs = append(docs, document{n: n, line: line, json: raw})
	}
}

// yamlDocuments splits data the way kubectl does: a line that starts with
// "---" ends a document, and may be followed by a comment but nothing else.
func yamlDocuments(data []byte) ([]document, error) {
	var docs []document
	var buf []byte
	start := 1
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		j, err := yaml.YAMLToJSONStrict(buf)
		buf = nil
		if err != nil {
			return fmt.Errorf("document %d (line %d): %s", len(docs)+1, start, yamlError(err, start))
		}
		if string(j) != "null" { // only blanks and comments
			docs = append(docs, document{n: len(docs) + 1, line: start, json: j})
		}
		return nil
	}
	for i, l := range bytes.SplitAfter(data, []byte("\n")) {
		if !bytes.HasPrefix(l, []byte("---")) {
			if len(buf) == 0 {
				start = i + 1
			}
			buf = append(buf, l...)
			continue
		}
		if err := flush(); err != nil {
			return nil, err
		}
		if rest := bytes.TrimSpace(l[3:]); len(rest) > 0 && rest[0] != '#' {
			return nil, fmt.Errorf("line %d: invalid document separator %q", i+1, bytes.TrimSpace(l))
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return docs, nil
}

// yamlLine matches the line numbers go-yaml puts in its messages.
var yamlLine = regexp.MustCompile(`\bline (\d+)\b`)

// yamlError returns the text of a go-yaml error on one line, its line
// numbers (counted from the document's first line) made relative to the
// file.
func yamlError(err error, start int) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	return yamlLine.ReplaceAllStringFunc(msg, func(m string) string {
		n, _ := strconv.Atoi(m[len("line "):])
		return "line " + strconv.Itoa(n+start-1)
	})
}
