// deploy-validate decodes rendered Kubernetes manifests strictly against the API types, offline:
// every object's apiVersion/kind must be one this chart may render, every field must exist in
// that type (no unknown or duplicate fields, case-sensitive), every value must have the field's
// type (a string where an integer belongs fails, so does a malformed quantity), names and
// labels must be valid, and objects that refer to each other in one render must agree
// (selectors match the pods, scale targets and headless Services exist).
//
// Usage:
//
//	deploy-validate FILE...                  validate (FILE "-" is stdin); exit 1 on any error
//	deploy-validate -dump FILE...            validate, then print the objects as one JSON array
//	deploy-validate -compose FILE            validate a Compose file instead (compose.go)
//	deploy-validate -pod-env STS -ordinal N [-namespace NS] FILE...
//	                                         validate, then print the environment the kubelet
//	                                         would give container -container (default: the
//	                                         first) of pod STS-N, as a JSON object
//
// Built-in types come from k8s.io/api; ServiceMonitor and PrometheusRule from the Prometheus
// Operator's own API module. Strimzi's KafkaTopic (a Java project) and KEDA's ScaledObject
// (whose Go API package pulls in controller-runtime) are mirrored in crds.go from their CRDs.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
)

// The kinds a render may contain, each with a constructor of its typed object.
var kinds = map[string]func() any{
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                               func() any { return &corev1.Secret{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"v1/Namespace":                            func() any { return &corev1.Namespace{} },
	"apps/v1/StatefulSet":                     func() any { return &appsv1.StatefulSet{} },
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy":      func() any { return &networkingv1.NetworkPolicy{} },
	"autoscaling/v2/HorizontalPodAutoscaler":  func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
	"monitoring.coreos.com/v1/PrometheusRule": func() any { return &monitoringv1.PrometheusRule{} },
	"kafka.strimzi.io/v1beta2/KafkaTopic":     func() any { return &KafkaTopic{} },
	"keda.sh/v1alpha1/ScaledObject":           func() any { return &ScaledObject{} },
}

type object struct {
	where string // file and document number
	id    string // Kind/name
	raw   json.RawMessage
	typed any
	meta  metav1.ObjectMeta
}

func (o *object) errorf(format string, args ...any) error {
	return fmt.Errorf("%s (%s): %s", o.where, o.id, fmt.Sprintf(format, args...))
}

// splitDocuments splits a YAML stream at lines that are exactly "---" (Helm's separator).
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if t := bytes.TrimRight(line, " \t\r\n"); bytes.Equal(t, []byte("---")) {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
			cur.Reset()
			continue
		}
		cur.Write(line)
	}
	return append(docs, cur.Bytes())
}

// isEmpty: a document of comments and blank lines only (Helm leaves those for disabled parts).
func isEmpty(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			return false
		}
	}
	return true
}

func decode(where string, doc []byte) (*object, error) {
	// YAMLToJSONStrict rejects duplicate keys, which plain YAML decoding would silently merge.
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: not valid YAML: %v", where, err)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		return nil, fmt.Errorf("%s: not an object: %v", where, err)
	}
	o := &object{where: where, id: head.Kind + "/" + head.Metadata.Name, raw: js}
	if head.APIVersion == "" || head.Kind == "" {
		return nil, o.errorf("apiVersion and kind are required")
	}
	newObject, known := kinds[head.APIVersion+"/"+head.Kind]
	if !known {
		return nil, o.errorf("unsupported apiVersion/kind %s/%s (a typo, or a kind this validator does not know)",
			head.APIVersion, head.Kind)
	}
	o.typed = newObject()
	// Case-sensitive like the API server; unknown and duplicate fields are strict errors.
	strictErrs, err := kjson.UnmarshalStrict(js, o.typed, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, o.errorf("%v", err)
	}
	if len(strictErrs) > 0 {
		msgs := make([]string, len(strictErrs))
		for i, e := range strictErrs {
			msgs[i] = e.Error()
		}
		return nil, o.errorf("%s", strings.Join(msgs, "; "))
	}
	var withMeta struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	_ = json.Unmarshal(js, &withMeta)
	o.meta = withMeta.Metadata
	return o, nil
}

func checkMeta(o *object) []error {
	var errs []error
	if o.meta.Name == "" {
		errs = append(errs, o.errorf("metadata.name is required"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(o.meta.Name) {
			errs = append(errs, o.errorf("metadata.name: %s", msg))
		}
	}
	if _, isService := o.typed.(*corev1.Service); isService {
		for _, msg := range validation.IsDNS1035Label(o.meta.Name) {
			errs = append(errs, o.errorf("Service name: %s", msg))
		}
	}
	checkLabels := func(what string, m map[string]string) {
		for k, v := range m {
			for _, msg := range validation.IsQualifiedName(k) {
				errs = append(errs, o.errorf("%s key %q: %s", what, k, msg))
			}
			for _, msg := range validation.IsValidLabelValue(v) {
				errs = append(errs, o.errorf("%s %q value %q: %s", what, k, v, msg))
			}
		}
	}
	checkLabels("label", o.meta.Labels)
	for k := range o.meta.Annotations {
		for _, msg := range validation.IsQualifiedName(strings.ToLower(k)) {
			errs = append(errs, o.errorf("annotation key %q: %s", k, msg))
		}
	}
	switch t := o.typed.(type) {
	case *appsv1.StatefulSet:
		checkLabels("pod template label", t.Spec.Template.Labels)
	case *corev1.ConfigMap:
		// Dashboards and other JSON payloads must parse: Grafana skips a broken file silently.
		for k, v := range t.Data {
			if strings.HasSuffix(k, ".json") && !json.Valid([]byte(v)) {
				errs = append(errs, o.errorf("data[%q] is not valid JSON", k))
			}
		}
	}
	return errs
}

// selects reports whether selector matches the labels.
func selects(sel *metav1.LabelSelector, lbls map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && !s.Empty() && s.Matches(labels.Set(lbls))
}

// checkReferences checks what objects of one render say about each other.
func checkReferences(objs []*object) []error {
	var errs []error
	byID := map[string]*object{}
	var pods []map[string]string // pod template labels of the workloads
	for _, o := range objs {
		byID[o.id] = o
		switch t := o.typed.(type) {
		case *appsv1.StatefulSet:
			pods = append(pods, t.Spec.Template.Labels)
			if !selects(t.Spec.Selector, t.Spec.Template.Labels) {
				errs = append(errs, o.errorf("spec.selector does not match the pod template's labels"))
			}
		case *appsv1.Deployment:
			pods = append(pods, t.Spec.Template.Labels)
		}
	}
	matchesSomePod := func(sel *metav1.LabelSelector) bool {
		for _, p := range pods {
			if selects(sel, p) {
				return true
			}
		}
		return false
	}
	for _, o := range objs {
		switch t := o.typed.(type) {
		case *appsv1.StatefulSet:
			svc, ok := byID["Service/"+t.Spec.ServiceName].typedOK()
			if !ok {
				errs = append(errs, o.errorf("spec.serviceName %q names no Service of this render", t.Spec.ServiceName))
			} else if s := svc.(*corev1.Service); s.Spec.ClusterIP != corev1.ClusterIPNone {
				errs = append(errs, o.errorf("spec.serviceName %q is not a headless Service (clusterIP: None)", t.Spec.ServiceName))
			}
		case *corev1.Service:
			if len(t.Spec.Selector) > 0 && !matchesSomePod(&metav1.LabelSelector{MatchLabels: t.Spec.Selector}) {
				errs = append(errs, o.errorf("spec.selector matches no pod of this render"))
			}
		case *policyv1.PodDisruptionBudget:
			if !matchesSomePod(t.Spec.Selector) {
				errs = append(errs, o.errorf("spec.selector matches no pod of this render"))
			}
		case *networkingv1.NetworkPolicy:
			if !matchesSomePod(&t.Spec.PodSelector) {
				errs = append(errs, o.errorf("spec.podSelector matches no pod of this render"))
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			ref := t.Spec.ScaleTargetRef
			if _, ok := byID[ref.Kind+"/"+ref.Name]; !ok {
				errs = append(errs, o.errorf("spec.scaleTargetRef %s/%s is not in this render", ref.Kind, ref.Name))
			}
		case *ScaledObject:
			ref := t.Spec.ScaleTargetRef
			if _, ok := byID[ref.Kind+"/"+ref.Name]; !ok {
				errs = append(errs, o.errorf("spec.scaleTargetRef %s/%s is not in this render", ref.Kind, ref.Name))
			}
		case *monitoringv1.ServiceMonitor:
			found := false
			for _, other := range objs {
				if _, ok := other.typed.(*corev1.Service); ok && selects(&t.Spec.Selector, other.meta.Labels) {
					found = true
				}
			}
			if !found {
				errs = append(errs, o.errorf("spec.selector matches no Service of this render"))
			}
		}
	}
	return errs
}

func (o *object) typedOK() (any, bool) {
	if o == nil {
		return nil, false
	}
	return o.typed, true
}

var varRef = regexp.MustCompile(`\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)`)

// podEnv is the environment the kubelet gives container `container` of pod `<sts>-<ordinal>`:
// envFrom first, then env in order (later wins), with $(VAR) references to variables defined
// before expanded and $$ an escaped $, as Kubernetes does.
func podEnv(objs []*object, stsName string, ordinal int, container, namespace string) (map[string]string, error) {
	var sts *appsv1.StatefulSet
	var ns string
	configMaps := map[string]map[string]string{}
	secrets := map[string]map[string]string{}
	for _, o := range objs {
		switch t := o.typed.(type) {
		case *appsv1.StatefulSet:
			if t.Name == stsName {
				sts, ns = t, t.Namespace
			}
		case *corev1.ConfigMap:
			configMaps[t.Name] = t.Data
		case *corev1.Secret:
			m := map[string]string{}
			for k, v := range t.Data {
				m[k] = string(v)
			}
			for k, v := range t.StringData {
				m[k] = v
			}
			secrets[t.Name] = m
		}
	}
	if sts == nil {
		return nil, fmt.Errorf("no StatefulSet %q in the render", stsName)
	}
	var c *corev1.Container
	for i := range sts.Spec.Template.Spec.Containers {
		if container == "" || sts.Spec.Template.Spec.Containers[i].Name == container {
			c = &sts.Spec.Template.Spec.Containers[i]
			break
		}
	}
	if c == nil {
		return nil, fmt.Errorf("StatefulSet %q has no container %q", stsName, container)
	}
	if ns == "" {
		ns = namespace // helm template leaves it out: the release namespace
	}
	podName := fmt.Sprintf("%s-%d", stsName, ordinal)
	env := map[string]string{}
	lookup := func(kind string, all map[string]map[string]string, name, key string, optional *bool) (string, bool, error) {
		data, ok := all[name]
		if !ok {
			if optional != nil && *optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("%s %q is not in the render", kind, name)
		}
		v, ok := data[key]
		if !ok && (optional == nil || !*optional) {
			return "", false, fmt.Errorf("%s %q has no key %q", kind, name, key)
		}
		return v, ok, nil
	}
	for _, from := range c.EnvFrom {
		var data map[string]string
		switch {
		case from.ConfigMapRef != nil:
			d, ok := configMaps[from.ConfigMapRef.Name]
			if !ok && (from.ConfigMapRef.Optional == nil || !*from.ConfigMapRef.Optional) {
				return nil, fmt.Errorf("envFrom ConfigMap %q is not in the render", from.ConfigMapRef.Name)
			}
			data = d
		case from.SecretRef != nil:
			d, ok := secrets[from.SecretRef.Name]
			if !ok && (from.SecretRef.Optional == nil || !*from.SecretRef.Optional) {
				return nil, fmt.Errorf("envFrom Secret %q is not in the render", from.SecretRef.Name)
			}
			data = d
		}
		for k, v := range data {
			env[from.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = varRef.ReplaceAllStringFunc(e.Value, func(m string) string {
				if m == "$$" {
					return "$"
				}
				if v, ok := env[m[2:len(m)-1]]; ok {
					return v
				}
				return m
			})
			continue
		}
		var v string
		var ok bool
		var err error
		switch f := e.ValueFrom; {
		case f.FieldRef != nil:
			switch f.FieldRef.FieldPath {
			case "metadata.name":
				v, ok = podName, true
			case "metadata.namespace":
				v, ok = ns, true
			case "status.podIP", "status.hostIP":
				v, ok = "127.0.0.1", true
			default:
				return nil, fmt.Errorf("env %s: fieldRef %q is not emulated", e.Name, f.FieldRef.FieldPath)
			}
		case f.ConfigMapKeyRef != nil:
			v, ok, err = lookup("ConfigMap", configMaps, f.ConfigMapKeyRef.Name, f.ConfigMapKeyRef.Key, f.ConfigMapKeyRef.Optional)
		case f.SecretKeyRef != nil:
			v, ok, err = lookup("Secret", secrets, f.SecretKeyRef.Name, f.SecretKeyRef.Key, f.SecretKeyRef.Optional)
		default:
			return nil, fmt.Errorf("env %s: valueFrom source is not emulated", e.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("env %s: %v", e.Name, err)
		}
		if ok {
			env[e.Name] = v
		}
	}
	return env, nil
}

func main() {
	dump := flag.Bool("dump", false, "print the validated objects as one JSON array")
	stsName := flag.String("pod-env", "", "print the environment of a pod of this StatefulSet")
	ordinal := flag.Int("ordinal", 0, "the pod's ordinal (with -pod-env)")
	container := flag.String("container", "", "the container (with -pod-env; default: the first)")
	namespace := flag.String("namespace", "default", "the namespace of objects that name none (with -pod-env)")
	compose := flag.Bool("compose", false, "validate a Compose file (docker compose's loader)")
	flag.Parse()
	if *compose {
		if flag.NArg() != 1 {
			fmt.Fprintln(os.Stderr, "usage: deploy-validate -compose FILE")
			os.Exit(2)
		}
		summary, err := validateCompose(flag.Arg(0))
		if err != nil {
			fmt.Fprintf(os.Stderr, "error: %s: %v\n", flag.Arg(0), err)
			os.Exit(1)
		}
		fmt.Printf("deploy-validate: %s valid: %s\n", flag.Arg(0), summary)
		return
	}
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: deploy-validate [-dump | -pod-env STS -ordinal N [-container C]] FILE... | -compose FILE")
		os.Exit(2)
	}
	var objs []*object
	var errs []error
	for _, name := range flag.Args() {
		var data []byte
		var err error
		if name == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(name)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "deploy-validate: %v\n", err)
			os.Exit(2)
		}
		for i, doc := range splitDocuments(data) {
			if isEmpty(doc) {
				continue
			}
			o, err := decode(fmt.Sprintf("%s: document %d", name, i+1), doc)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, checkMeta(o)...)
			objs = append(objs, o)
		}
	}
	errs = append(errs, checkReferences(objs)...)
	seen := map[string]bool{}
	for _, o := range objs {
		key := o.id + "/" + o.meta.Namespace
		if seen[key] {
			errs = append(errs, o.errorf("defined twice"))
		}
		seen[key] = true
	}
	for _, e := range errs {
		fmt.Fprintf(os.Stderr, "error: %v\n", e)
	}
	if len(errs) > 0 {
		fmt.Fprintf(os.Stderr, "deploy-validate: %d error(s) in %d object(s)\n", len(errs), len(objs))
		os.Exit(1)
	}
	if len(objs) == 0 {
		fmt.Fprintln(os.Stderr, "deploy-validate: no objects found")
		os.Exit(1)
	}
	switch {
	case *dump:
		raws := make([]json.RawMessage, len(objs))
		for i, o := range objs {
			raws[i] = o.raw
		}
		out, _ := json.Marshal(raws)
		fmt.Println(string(out))
	case *stsName != "":
		env, err := podEnv(objs, *stsName, *ordinal, *container, *namespace)
		if err != nil {
			fmt.Fprintf(os.Stderr, "deploy-validate: %v\n", err)
			os.Exit(1)
		}
		out, _ := json.Marshal(env)
		fmt.Println(string(out))
	default:
		ids := make([]string, len(objs))
		for i, o := range objs {
			ids[i] = o.id
		}
		sort.Strings(ids)
		fmt.Printf("deploy-validate: %d objects valid: %s\n", len(objs), strings.Join(ids, ", "))
	}
}
