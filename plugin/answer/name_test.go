package answer

import "testing"

func TestParse(t *testing.T) {
	const origin, fed = "example.com.", "myfed"
	tests := []struct {
		name  string
		qname string
		want  Name
	}{
		{"apex", "example.com.", Name{Kind: Apex}},
		{"outside", "com.", Name{}},
		{"global service", "nginx.default.myfed.svc.example.com.",
			Name{Kind: Service, Level: Global, Federated: true, Namespace: "default", Service: "nginx"}},
		{"region service", "nginx.default.myfed.svc.us-central1.example.com.",
			Name{Kind: Service, Level: Region, Region: "us-central1", Federated: true, Namespace: "default", Service: "nginx"}},
		{"zone service", "nginx.default.myfed.svc.us-central1-a.us-central1.example.com.",
			Name{Kind: Service, Level: Zone, Region: "us-central1", Zone: "us-central1-a", Federated: true, Namespace: "default", Service: "nginx"}},
		{"global srv", "_http._tcp.nginx.default.myfed.svc.example.com.",
			Name{Kind: SRV, Level: Global, Federated: true, Namespace: "default", Service: "nginx", Proto: "tcp", Port: "http"}},
		{"zone srv", "_http._tcp.nginx.default.myfed.svc.z.r.example.com.",
			Name{Kind: SRV, Level: Zone, Region: "r", Zone: "z", Federated: true, Namespace: "default", Service: "nginx", Proto: "tcp", Port: "http"}},
		{"proto node", "_tcp.nginx.default.myfed.svc.example.com.",
			Name{Kind: Node, Federated: true, Namespace: "default", Service: "nginx", Proto: "tcp"}},
		{"namespace node", "default.myfed.svc.example.com.",
			Name{Kind: Node, Federated: true, Namespace: "default"}},
		{"federation node", "myfed.svc.example.com.", Name{Kind: Node, Federated: true}},
		{"svc node", "svc.example.com.", Name{Kind: Node}},
		{"region node", "us-central1.example.com.", Name{Kind: Node, Level: Region, Region: "us-central1"}},
		{"zone node", "a.r.example.com.", Name{Kind: Node, Level: Zone, Region: "r", Zone: "a"}},
		{"region svc node", "svc.r.example.com.", Name{Kind: Node, Level: Region, Region: "r"}},
		{"zone fed node", "myfed.svc.a.r.example.com.", Name{Kind: Node, Level: Zone, Region: "r", Zone: "a", Federated: true}},
		{"other federation", "nginx.default.other.svc.example.com.", Name{}},
		{"three labels no svc", "a.b.c.example.com.", Name{}},
		{"too many labels", "a.b.c.d.e.f.g.h.i.example.com.", Name{}},
		{"srv without underscores", "http.tcp.nginx.default.myfed.svc.example.com.", Name{}},
		{"port without proto", "_http.x.nginx.default.myfed.svc.example.com.", Name{}},
		{"bare underscore", "_._tcp.nginx.default.myfed.svc.example.com.", Name{}},
		{"empty label", "nginx..myfed.svc.example.com.", Name{}},
		{"extra label", "x.y.nginx.default.myfed.svc.example.com.", Name{}},
		{"namespace named svc", "nginx.svc.myfed.svc.example.com.",
			Name{Kind: Service, Federated: true, Namespace: "svc", Service: "nginx"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Parse(tc.qname, origin, fed); got != tc.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tc.qname, got, tc.want)
			}
		})
	}
}

func TestParseAllocs(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		Parse("_http._tcp.nginx.default.myfed.svc.us-central1-a.us-central1.example.com.", "example.com.", "myfed")
	})
	if n != 0 {
		t.Errorf("Parse allocates %v times, want 0", n)
	}
}
