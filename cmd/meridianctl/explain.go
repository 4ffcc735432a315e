package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/meridian-dns/meridian/plugin/explain"
	"github.com/meridian-dns/meridian/plugin/status"
)

// explainCmd asks a Meridian's status listener why a client gets the
// answer it gets, and prints the report for a person (or its JSON).
func explainCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("meridianctl explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	qtype := fs.String("type", "A", "the query type")
	client := fs.String("client", "", "the client: an address or network, asked as ECS (default: this machine's address as the listener sees it)")
	server := fs.String("server", "http://"+status.DefaultAddr, "the status listener of the Meridian to ask (kubectl port-forward to reach a pod's)")
	asJSON := fs.Bool("json", false, "print the report's JSON")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the answer")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: meridianctl explain NAME [flags]\n\nAsks a Meridian why a client gets the answer it gets for NAME. Flags:\n")
		fs.PrintDefaults()
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs.Usage()
		return 2
	}
	name := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "meridianctl explain: unexpected arguments %q\n", fs.Args())
		return 2
	}
	// Check the question here too: a bad one is the command line's fault.
	if _, err := status.ParseQuestion(name, *qtype, *client, "127.0.0.1:0"); err != nil {
		fmt.Fprintf(stderr, "meridianctl explain: %v\n", err)
		return 2
	}
	rep, raw, err := fetchExplain(ctx, *server, name, *qtype, *client, *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "meridianctl explain: %v\n", err)
		return 1
	}
	if *asJSON {
		_, err = stdout.Write(raw)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "meridianctl explain: %v\n", err)
		return 1
	}
	return 0
}

// fetchExplain gets the report from the listener at server.
func fetchExplain(ctx context.Context, server, name, qtype, client string, timeout time.Duration) (*explain.Report, []byte, error) {
	v := url.Values{"name": {name}, "type": {qtype}}
	if client != "" {
		v.Set("client", client)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(server, "/")+"/explain?"+v.Encode(), nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return nil, nil, fmt.Errorf("%s: %s", resp.Status, e.Error)
		}
		return nil, nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	var rep explain.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return nil, nil, fmt.Errorf("not a report: %w", err)
	}
	return &rep, raw, nil
}
