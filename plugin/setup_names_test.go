package meridian

import "testing"

// TestParseNames checks that the Corefile's names follow internal/dnsname:
// RFC 1123 labels of letters of either case, digits and inner hyphens, and
// domains of such labels. An underscore, or a hyphen at either end, was
// accepted in labels before the rule was shared.
func TestParseNames(t *testing.T) {
	block := func(lines string) string { return "meridian {\nfederation f\n" + lines + "\n}" }
	const resolver = "meridian example.org f.svc.cluster.local {\nrole resolver\nfederation f\nupstream 192.0.2.53\n"
	runParse(t, []parseCase{
		{name: "federation with an underscore", input: "meridian {\nfederation my_fed\n}", wantErr: `"my_fed"`},
		{name: "federation with a leading hyphen", input: "meridian {\nfederation -fed\n}", wantErr: `"-fed"`},
		{name: "region with an underscore", input: block("default_regions us-east1 us_central1"), wantErr: `bad region "us_central1"`},
		{name: "region ending in a hyphen", input: block("default_regions us-"), wantErr: `bad region "us-"`},
		{name: "cluster name with an underscore", input: block("cluster c_1 region r"), wantErr: `"c_1"`},
		{name: "cluster region with an underscore", input: block("cluster c1 region r_1"), wantErr: `unexpected "region"`},
		{name: "cluster zone with an underscore", input: block("cluster c1 region r zones a,b_c"), wantErr: `bad zone "b_c"`},
		{name: "cluster in upper case keeps its case, region and zones lower-cased", input: block("cluster C1 region EU zones A"),
			check: func(t *testing.T, c *Config) {
				if ov, ok := c.Build.Overrides["C1"]; !ok || ov.Region != "eu" || len(ov.Zones) != 1 || ov.Zones[0] != "a" {
					t.Errorf("overrides %+v", c.Build.Overrides)
				}
			}},
		{name: "context cluster name with an underscore", input: block("kubeconfig /k ctx=my_cluster"), wantErr: `bad context "ctx=my_cluster"`},
		{name: "context name itself is not a label", input: block("kubeconfig /k gke_p_z_c=c"), check: func(t *testing.T, c *Config) {
			if c.Contexts["gke_p_z_c"] != "c" {
				t.Errorf("contexts %v", c.Contexts)
			}
		}},
		{name: "in_cluster with an underscore", input: block("in_cluster home_1"), wantErr: `"home_1"`},
		{name: "probe port name with an underscore", input: block("probe http web_1"), wantErr: `"web_1" is not a port number from 1 to 65535 or a Service port name`},
		{name: "probe port name lower-cased", input: block("probe http HTTP-Alt"), check: func(t *testing.T, c *Config) {
			if c.Build.Defaults.ProbePortName != "http-alt" {
				t.Errorf("probe port name %q", c.Build.Defaults.ProbePortName)
			}
		}},
		{name: "ns name with an underscore", input: block("ns ns_1.example.org"), wantErr: `"ns_1.example.org"`},
		{name: "ns name with an empty label", input: block("ns ns1..example.org"), wantErr: `"ns1..example.org"`},
		{name: "hostmaster in upper case with its dot", input: block("hostmaster Admin.Example.org."), check: func(t *testing.T, c *Config) {
			if c.Authority.Hostmaster != "admin.example.org." {
				t.Errorf("hostmaster %q", c.Authority.Hostmaster)
			}
		}},
		{name: "hostmaster with an underscore", input: block("hostmaster dns_admin.example.org"), wantErr: `"dns_admin.example.org"`},
		{name: "local_cluster with an underscore", input: resolver + "manifests d\nlocal_cluster c_2\n}", wantErr: `"c_2"`},
		{name: "cluster_domain with an underscore", input: resolver + "in_cluster c\ncluster_domain cluster_local\n}", wantErr: `"cluster_local"`},
	})
}
