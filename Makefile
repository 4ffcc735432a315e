# Meridian: build, run the demo, test, benchmark.
GO      ?= go
BIN     := bin/meridian
PKGS    := ./...

.PHONY: all build coredns run test unit e2e soak bench bench-authority bench-scale bench-scale-ingress lint dashboard generate tools kube-tools clean image

all: build

## build: the CoreDNS binary with the meridian plugin, in bin/meridian, and the operator's command, bin/meridianctl
build:
	$(GO) build -o $(BIN) ./cmd/meridian
	$(GO) build -o bin/meridianctl ./cmd/meridianctl

## coredns: stock CoreDNS from the same CoreDNS module (no meridian), for side-by-side tests
coredns:
	$(GO) build -o bin/coredns github.com/coredns/coredns

## run: serve the demo federation on 127.0.0.1:1053 (no cluster needed)
run: build
	@hack/run-demo.sh $(BIN)

## test: install the test tools (dig, kdig, kube-apiserver, etcd), build stock CoreDNS and meridian
## with -race (bin/meridian-race: the end-to-end and kube tests fail on any DATA RACE in its output),
## then vet and every test (unit, end-to-end, real API servers) under -race
test: tools kube-tools coredns
	$(GO) vet $(PKGS)
	$(GO) build -race -o bin/meridian-race ./cmd/meridian
	MERIDIAN_BIN=$(CURDIR)/bin/meridian-race MERIDIAN_COREDNS_BIN=$(CURDIR)/bin/coredns MERIDIAN_KUBE_TESTS=1 $(GO) test -race -count=1 -timeout 20m $(PKGS)

## unit: the tests without the end-to-end ones
unit:
	$(GO) test -race -count=1 $(shell $(GO) list $(PKGS) | grep -v /test/)

## soak: TestSoak for 10 minutes with bin/meridian (no -race: it would slow the server tenfold): three real API
## servers, the load at 80% of the measured maximum, every answer checked, while an EndpointSlice flips every second, a
## probe target, the GeoIP file and an API server die and come back (docs/reliability.md; make test runs it for 60 s)
soak: kube-tools build
	MERIDIAN_SOAK=10m MERIDIAN_BIN=$(CURDIR)/$(BIN) MERIDIAN_KUBE_TESTS=1 $(GO) test -count=1 -run '^TestSoak$$' -v -timeout 30m ./test/kube/

## bench: Go benchmarks of the answer path, the GeoIP cache, the answer choice and the health engine (10,000 probed shards),
## convergence against real API servers (100 EndpointSlice flips), then the resolver role's local answer against stock
## CoreDNS `file` over sockets with dnsperf (bench/resolver/run.sh, about 4 minutes)
bench: kube-tools build coredns
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./plugin/... ./geo/... ./health/
	$(GO) test -run '^$$' -bench Prober10k -benchtime 1x ./health/
	MERIDIAN_BIN=$(CURDIR)/$(BIN) MERIDIAN_KUBE_TESTS=1 $(GO) test -run '^$$' -bench Convergence -benchtime 100x ./test/kube/
	bench/resolver/run.sh

## bench-authority: Meridian, stock CoreDNS whoami and file, gdnsd and Knot side by side on loopback with
## per-query ECS from real networks (bench/authority/run.sh, about 5 minutes; installs gdnsd and Knot from Debian)
bench-authority: build coredns
	bench/authority/run.sh

## bench-scale: 10 real API servers x 10,000 federated Services (about 45 minutes on 2 cores);
## MERIDIAN_SCALE_DATA=DIR keeps the objects for later runs, MERIDIAN_SCALE_PROFILE=DIR saves heap and CPU profiles
bench-scale: kube-tools build
	MERIDIAN_BIN=$(CURDIR)/$(BIN) MERIDIAN_KUBE_TESTS=1 $(GO) test -run '^$$' -bench Scale -benchtime 1x -timeout 58m ./test/kube/

## bench-scale-ingress: the same with 5,000 federated Services and 5,000 Ingresses (two backends each) per cluster
## (Federated Ingress, docs/benchmarks.md; about 40 minutes on 2 cores)
bench-scale-ingress: kube-tools build
	MERIDIAN_SCALE_SERVICES=5000 MERIDIAN_SCALE_INGRESSES=5000 MERIDIAN_BIN=$(CURDIR)/$(BIN) MERIDIAN_KUBE_TESTS=1 \
		$(GO) test -run '^$$' -bench Scale -benchtime 1x -timeout 58m ./test/kube/

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) vet $(PKGS)

## dashboard: regenerate deploy/grafana/meridian.json from deploy/grafana
dashboard:
	MERIDIAN_UPDATE=1 $(GO) test -count=1 -run TestDashboardFile ./deploy/grafana/

## generate: remake generated files (the GeoIP test database, the dashboard)
generate:
	$(GO) generate ./...

## tools: DNS clients the end-to-end tests drive (dig, kdig), from Debian
tools:
	@hack/install-tools.sh

## kube-tools: kube-apiserver and etcd built from the Go module proxy, cached outside the clone
kube-tools:
	@hack/kube/harness.sh install >/dev/null

clean:
	rm -rf bin
image:
	CGO_ENABLED=0 $(GO) build -o bin/meridian-static ./cmd/meridian && docker build -f deploy/Dockerfile -t meridian:dev .
