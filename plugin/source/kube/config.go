package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	gateway "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
)

// clusterConfig is one member cluster as the configuration describes it.
type clusterConfig struct {
	client  kubernetes.Interface
	gateway gateway.Interface // the Gateway API's clientset
	server  string
	hash    string // of everything that reaches the API server; a change restarts the member
}

// load reads the kubeconfig files (and the in-cluster config) into the
// member clusters they describe, by cluster name. Files that describe no
// member cluster at all are an error, as unreadable ones are.
func (s *Source) load() (map[string]clusterConfig, error) {
	out := map[string]clusterConfig{}
	seen := map[string]bool{}
	for _, path := range s.opts.Kubeconfigs {
		cfg, err := clientcmd.LoadFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrKubeconfig, path, err)
		}
		names := make([]string, 0, len(cfg.Contexts))
		for name := range cfg.Contexts {
			names = append(names, name)
			seen[name] = true
		}
		sort.Strings(names)
		for _, ctxName := range names {
			cluster, ok := s.clusterName(ctxName)
			if !ok {
				continue
			}
			if _, dup := out[cluster]; dup {
				return nil, fmt.Errorf("%w: %s: cluster %q named twice", ErrKubeconfig, path, cluster)
			}
			cc, err := fromContext(cfg, ctxName)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: context %q: %w", ErrKubeconfig, path, ctxName, err)
			}
			out[cluster] = cc
		}
	}
	if s.opts.InCluster != "" {
		if _, dup := out[s.opts.InCluster]; dup {
			return nil, fmt.Errorf("%w: cluster %q named twice: by in_cluster and by a kubeconfig context", ErrKubeconfig, s.opts.InCluster)
		}
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("%w: in-cluster: %w", ErrKubeconfig, err)
		}
		cc, err := newClusterConfig(rc, "in-cluster")
		if err != nil {
			return nil, err
		}
		out[s.opts.InCluster] = cc
	}
	if len(out) == 0 {
		// An emptied file reads as a valid kubeconfig with no context.
		// A federation of no cluster is never meant: it is garbage, and
		// the running clusters are kept.
		return nil, fmt.Errorf("%w: %s: no context names a member cluster", ErrKubeconfig, strings.Join(s.opts.Kubeconfigs, ", "))
	}
	s.missing = s.missing[:0]
	for name := range s.opts.Contexts {
		if !seen[name] {
			s.missing = append(s.missing, name)
		}
	}
	sort.Strings(s.missing)
	return out, nil
}

// warnMissing logs the contexts the Corefile names that no kubeconfig
// file holds (a typo, a context not written yet, or an interval given
// where a context goes: `kubeconfig PATH 1s`), when that list changes
// from last, the list last logged.
func (s *Source) warnMissing(last *string) {
	now := strings.Join(s.missing, ", ")
	if now != "" && now != *last {
		s.opts.Logger.Warningf("kube: contexts named in the Corefile but in no kubeconfig file (%s), so not watched: %s", strings.Join(s.opts.Kubeconfigs, ", "), now)
	}
	*last = now
}

// clusterName maps a context to its cluster name, and says whether the
// context is used at all.
func (s *Source) clusterName(ctxName string) (string, bool) {
	if len(s.opts.Contexts) == 0 {
		return ctxName, true
	}
	name, ok := s.opts.Contexts[ctxName]
	if name == "" {
		name = ctxName
	}
	return name, ok
}

func fromContext(cfg *clientcmdapi.Config, ctxName string) (clusterConfig, error) {
	rc, err := clientcmd.NewNonInteractiveClientConfig(*cfg, ctxName, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	if err != nil {
		return clusterConfig{}, err
	}
	kc := cfg.Contexts[ctxName]
	h := sha256.New()
	// What identifies the connection: the context, its cluster and its user.
	for _, v := range []any{kc, cfg.Clusters[kc.Cluster], cfg.AuthInfos[kc.AuthInfo]} {
		b, err := json.Marshal(v)
		if err != nil {
			return clusterConfig{}, err
		}
		h.Write(b)
	}
	cc, err := newClusterConfig(rc, hex.EncodeToString(h.Sum(nil)))
	return cc, err
}

func newClusterConfig(rc *rest.Config, hash string) (clusterConfig, error) {
	rc = rest.CopyConfig(rc)
	rc.UserAgent = "meridian"
	// Protobuf, as CoreDNS's kubernetes plugin does: far less CPU and
	// garbage than JSON when a large cluster is listed.
	rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	rc.ContentType = "application/vnd.kubernetes.protobuf"
	// Informers list once and then watch; the defaults (5 QPS) would make
	// the first lists of a large cluster and its relists crawl.
	rc.QPS, rc.Burst = 50, 100
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return clusterConfig{}, err
	}
	// The Gateway API kinds are CRDs, which API servers serve as JSON only.
	gc := rest.CopyConfig(rc)
	gc.AcceptContentTypes, gc.ContentType = "application/json", "application/json"
	gw, err := gateway.NewForConfig(gc)
	if err != nil {
		return clusterConfig{}, err
	}
	return clusterConfig{client: client, gateway: gw, server: rc.Host, hash: hash}, nil
}
