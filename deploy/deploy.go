// Package deploy holds the manifests of deploy/ that programs apply
// themselves, so that there is one copy of each: meridianctl join applies
// RBAC in every member cluster it joins.
package deploy

import _ "embed"

// RBAC is deploy/rbac.yaml: the namespace, ServiceAccount, ClusterRole and
// ClusterRoleBinding of Meridian's least privilege in a member cluster.
//
//go:embed rbac.yaml
var RBAC []byte
