package members

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/meridian-dns/meridian/deploy"
)

// ErrForbidden is a step the operator's credentials may not take.
var ErrForbidden = errors.New("insufficient rights")

// rights turns a Forbidden error of verb on resource in c into one that
// names them.
func rights(c *Cluster, verb, resource string, err error) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("context %s: %w: cannot %s %s (%v)", c.Context, ErrForbidden, verb, resource, err)
	}
	return fmt.Errorf("context %s: %s %s: %w", c.Context, verb, resource, err)
}

// rbacObjects are the objects of deploy/rbac.yaml.
func rbacObjects() ([]runtime.Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(deploy.RBAC)))
	var out []runtime.Object
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("deploy/rbac.yaml: %w", err)
		}
		out = append(out, obj)
	}
}

// applyRBAC creates the objects of deploy/rbac.yaml in c, or updates the
// rules and bindings that differ, and says what it did.
func applyRBAC(ctx context.Context, c *Cluster, out io.Writer) error {
	objs, err := rbacObjects()
	if err != nil {
		return err
	}
	for _, obj := range objs {
		what, err := apply(ctx, c, obj)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "member %s: %s\n", c.Context, what)
	}
	return nil
}

// apply makes obj exist in c as written and returns what it did.
func apply(ctx context.Context, c *Cluster, obj runtime.Object) (string, error) {
	api := c.Client
	switch o := obj.(type) {
	case *corev1.Namespace:
		return ensure(c, "namespaces", "namespace "+o.Name,
			func() error { _, err := api.CoreV1().Namespaces().Get(ctx, o.Name, metav1.GetOptions{}); return err },
			func() error { _, err := api.CoreV1().Namespaces().Create(ctx, o, metav1.CreateOptions{}); return err }, nil)
	case *corev1.ServiceAccount:
		return ensure(c, "serviceaccounts", "serviceaccount "+o.Namespace+"/"+o.Name,
			func() error {
				_, err := api.CoreV1().ServiceAccounts(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
				return err
			},
			func() error {
				_, err := api.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
				return err
			}, nil)
	case *rbacv1.ClusterRole:
		var cur *rbacv1.ClusterRole
		return ensure(c, "clusterroles.rbac.authorization.k8s.io", "clusterrole "+o.Name,
			func() (err error) {
				cur, err = api.RbacV1().ClusterRoles().Get(ctx, o.Name, metav1.GetOptions{})
				return err
			},
			func() error { _, err := api.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{}); return err },
			func() (bool, error) {
				if equality.Semantic.DeepEqual(cur.Rules, o.Rules) {
					return false, nil
				}
				cur.Rules = o.Rules
				_, err := api.RbacV1().ClusterRoles().Update(ctx, cur, metav1.UpdateOptions{})
				return true, err
			})
	case *rbacv1.ClusterRoleBinding:
		var cur *rbacv1.ClusterRoleBinding
		return ensure(c, "clusterrolebindings.rbac.authorization.k8s.io", "clusterrolebinding "+o.Name,
			func() (err error) {
				cur, err = api.RbacV1().ClusterRoleBindings().Get(ctx, o.Name, metav1.GetOptions{})
				return err
			},
			func() error {
				_, err := api.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
				return err
			},
			func() (bool, error) {
				if equality.Semantic.DeepEqual(cur.Subjects, o.Subjects) && cur.RoleRef == o.RoleRef {
					return false, nil
				}
				// The role a binding names cannot change: delete and create.
				if err := api.RbacV1().ClusterRoleBindings().Delete(ctx, o.Name, metav1.DeleteOptions{}); err != nil {
					return true, err
				}
				_, err := api.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
				return true, err
			})
	}
	return "", fmt.Errorf("deploy/rbac.yaml: unexpected %T", obj)
}

// ensure gets an object; creates it when it is missing; else, with
// update, brings it in line. It returns what it did to it.
func ensure(c *Cluster, resource, what string, get, create func() error, update func() (bool, error)) (string, error) {
	err := get()
	switch {
	case apierrors.IsNotFound(err):
		if err := create(); err != nil {
			return "", rights(c, "create", resource, err)
		}
		return "created " + what, nil
	case err != nil:
		return "", rights(c, "get", resource, err)
	case update == nil:
		return what + " unchanged", nil
	}
	changed, err := update()
	switch {
	case err != nil:
		return "", rights(c, "update", resource, err)
	case changed:
		return "updated " + what, nil
	}
	return what + " unchanged", nil
}

// ensureToken makes sure the member has the ServiceAccount token Secret
// of Meridian's ServiceAccount, waits for the token controller to fill it,
// and returns its token and CA bundle. A token Secret does not expire: a
// TokenRequest token would, under Meridian, which cannot renew it in a
// cluster it only reads (docs/operating.md).
func ensureToken(ctx context.Context, c *Cluster, o Options) (token string, ca []byte, err error) {
	secrets := c.Client.CoreV1().Secrets(DefaultNamespace)
	what, err := ensure(c, "secrets", "secret "+DefaultNamespace+"/"+TokenSecret,
		func() error { _, err := secrets.Get(ctx, TokenSecret, metav1.GetOptions{}); return err },
		func() error {
			_, err := secrets.Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: TokenSecret, Namespace: DefaultNamespace,
					Annotations: map[string]string{corev1.ServiceAccountNameKey: serviceAccount}},
				Type: corev1.SecretTypeServiceAccountToken,
			}, metav1.CreateOptions{})
			return err
		}, nil)
	if err != nil {
		return "", nil, err
	}
	fmt.Fprintf(o.Out, "member %s: %s\n", c.Context, what)
	deadline := time.Now().Add(o.TokenWait)
	for {
		s, err := secrets.Get(ctx, TokenSecret, metav1.GetOptions{})
		if err != nil {
			return "", nil, rights(c, "get", "secrets", err)
		}
		if t := s.Data[corev1.ServiceAccountTokenKey]; len(t) > 0 {
			return string(t), s.Data[corev1.ServiceAccountRootCAKey], nil
		}
		if time.Now().After(deadline) {
			return "", nil, fmt.Errorf("context %s: secret %s/%s has no token after %v: is the token controller (kube-controller-manager) running?",
				c.Context, DefaultNamespace, TokenSecret, o.TokenWait)
		}
		select {
		case <-ctx.Done():
			return "", nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// deleteRBAC deletes the token Secret and the ServiceAccount, ClusterRole
// and ClusterRoleBinding of deploy/rbac.yaml in c, and says what it did.
// The namespace is kept: other things (a resolver's) may live in it.
func deleteRBAC(ctx context.Context, c *Cluster, out io.Writer) error {
	api := c.Client
	gone := func(resource, what string, del func() error) error {
		switch err := del(); {
		case apierrors.IsNotFound(err):
			fmt.Fprintf(out, "member %s: %s already gone\n", c.Context, what)
		case err != nil:
			return rights(c, "delete", resource, err)
		default:
			fmt.Fprintf(out, "member %s: deleted %s\n", c.Context, what)
		}
		return nil
	}
	if err := gone("secrets", "secret "+DefaultNamespace+"/"+TokenSecret, func() error {
		return api.CoreV1().Secrets(DefaultNamespace).Delete(ctx, TokenSecret, metav1.DeleteOptions{})
	}); err != nil {
		return err
	}
	objs, err := rbacObjects()
	if err != nil {
		return err
	}
	for _, obj := range slices.Backward(objs) { // the binding before what it binds
		var err error
		switch o := obj.(type) {
		case *rbacv1.ClusterRoleBinding:
			err = gone("clusterrolebindings.rbac.authorization.k8s.io", "clusterrolebinding "+o.Name, func() error {
				return api.RbacV1().ClusterRoleBindings().Delete(ctx, o.Name, metav1.DeleteOptions{})
			})
		case *rbacv1.ClusterRole:
			err = gone("clusterroles.rbac.authorization.k8s.io", "clusterrole "+o.Name, func() error {
				return api.RbacV1().ClusterRoles().Delete(ctx, o.Name, metav1.DeleteOptions{})
			})
		case *corev1.ServiceAccount:
			err = gone("serviceaccounts", "serviceaccount "+o.Namespace+"/"+o.Name, func() error {
				return api.CoreV1().ServiceAccounts(o.Namespace).Delete(ctx, o.Name, metav1.DeleteOptions{})
			})
		}
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "member %s: namespace %s kept\n", c.Context, DefaultNamespace)
	return nil
}
