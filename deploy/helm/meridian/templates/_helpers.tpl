{{/* The chart's names. */}}
{{- define "meridian.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "meridian.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: {{ .Values.role }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "meridian.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* A Corefile line's arguments: a list joined by spaces, else the value. */}}
{{- define "meridian.args" -}}
{{- if kindIs "slice" . -}}{{ join " " . }}{{- else -}}{{ . }}{{- end -}}
{{- end -}}

{{/* The Corefile. */}}
{{- define "meridian.corefile" -}}
{{- $v := .Values -}}
{{- if $v.dnssec.enabled }}
{{- if eq $v.role "resolver" }}{{ fail "dnssec.enabled: the resolver role is not signed (docs/dnssec.md); sign the authoritative role" }}{{ end }}
{{- if $v.fastpath.enabled }}{{ fail "dnssec.enabled and fastpath.enabled: the fast path cannot sign, every query of a signed zone goes through the chain; set fastpath.enabled false" }}{{ end }}
{{- if not $v.dnssec.keySecret }}{{ fail "dnssec.enabled: dnssec.keySecret must name the Secret holding the key files" }}{{ end }}
{{- if not $v.dnssec.keys }}{{ fail "dnssec.enabled: dnssec.keys must list the keys' names in dnssec.keySecret (NAME.key and NAME.private)" }}{{ end }}
{{- end }}
{{- range $i, $z := $v.zones }}{{ if $i }} {{ end }}{{ $z }}:53{{ end }} {
{{- if and $v.fastpath.enabled (ne $v.role "resolver") }}
    bind {$POD_IP}
{{- end }}
    meridian {
{{- if eq $v.role "resolver" }}
        role resolver
{{- end }}
        federation {{ $v.federation }}
{{- if $v.members.kubeconfigSecret }}
        kubeconfig /etc/meridian/members/{{ $v.members.kubeconfigKey }}
{{- end }}
{{- if $v.members.inCluster }}
        in_cluster {{ $v.members.inCluster }}
{{- end }}
{{- if $v.selector }}
        selector {{ $v.selector }}
{{- end }}
{{- if $v.namespaces }}
        namespaces {{ join " " $v.namespaces }}
{{- end }}
{{- if eq $v.role "resolver" }}
{{- if $v.resolver.localCluster }}
        local_cluster {{ $v.resolver.localCluster }}
{{- end }}
        upstream {{ join " " $v.resolver.upstreams }}
        cluster_domain {{ $v.resolver.clusterDomain }}
{{- else }}
{{- range $v.nameservers }}
        ns {{ .name }}{{ range .addresses }} {{ . }}{{ end }}
{{- end }}
{{- if $v.hostmaster }}
        hostmaster {{ $v.hostmaster }}
{{- end }}
        ttl {{ $v.ttl }}
        negative_ttl {{ $v.negativeTTL }}
        degraded_ttl {{ $v.degradedTTL }}
{{- if $v.geoip.enabled }}
        geoip {{ $v.geoip.path }} {{ $v.geoip.reload }}
{{- end }}
{{- end }}
{{- if $v.status.enabled }}
        status {{ $v.status.address }}
{{- end }}
{{- if and $v.fastpath.enabled (ne $v.role "resolver") }}
        fastpath
{{- end }}
{{- if $v.tcp.maxConnections }}
        max_tcp_connections {{ $v.tcp.maxConnections }}
{{- end }}
{{- range $k, $val := $v.settings }}
{{- if and (kindIs "slice" $val) (or (eq $k "host_rule") (eq $k "ns") (eq $k "cluster") (eq $k "kubeconfig")) }}
{{- range $val }}
        {{ $k }} {{ . }}
{{- end }}
{{- else }}
        {{ $k }} {{ include "meridian.args" $val }}
{{- end }}
{{- end }}
    }
    timeouts {
        read {{ $v.tcp.readTimeout }}
        idle {{ $v.tcp.idleTimeout }}
    }
    prometheus :{{ $v.metrics.port }}
    ready :8181
    health :8080 {
        lameduck {{ $v.lameduck }}
    }
    errors
{{- if $v.dnssec.enabled }}
    dnssec {
        key file{{ range $v.dnssec.keys }} /etc/meridian/dnssec/{{ . }}{{ end }}
        cache_capacity {{ $v.dnssec.cacheCapacity }}
    }
{{- end }}
{{- with $v.extraCorefile }}
{{ . | indent 4 }}
{{- end }}
}
{{- end -}}
