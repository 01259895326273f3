// Go mirrors of the two custom resources whose upstream Go types are not cheap to import:
// Strimzi's KafkaTopic (kafka.strimzi.io/v1beta2; Strimzi is written in Java) and KEDA's
// ScaledObject (keda.sh/v1alpha1; its Go API package imports controller-runtime). Field names,
// JSON tags and types follow the upstream CRD schemas (Strimzi 0.4x KafkaTopicSpec; KEDA
// v2.21 scaledobject_types.go and scaletriggers_types.go), so strict decoding rejects what the
// API server's structural schema would prune or reject. status is left out: a manifest has none.
package main

import (
	"encoding/json"
	"errors"
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
)

// KafkaTopic is Strimzi's topic resource, reconciled by the Topic Operator of the Kafka
// cluster named by the strimzi.io/cluster label.
type KafkaTopic struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              KafkaTopicSpec `json:"spec"`
}

type KafkaTopicSpec struct {
	// The topic's name when it differs from metadata.name (Kafka allows '_' and upper case).
	TopicName  string `json:"topicName,omitempty"`
	Partitions *int32 `json:"partitions,omitempty"`
	Replicas   *int32 `json:"replicas,omitempty"`
	// Topic configs; Strimzi accepts strings, numbers, booleans and lists of strings.
	Config map[string]json.RawMessage `json:"config,omitempty"`
}

func (t *KafkaTopic) UnmarshalJSON(data []byte) error {
	type plain KafkaTopic
	if err := strictInto(data, (*plain)(t)); err != nil {
		return err
	}
	if t.Labels["strimzi.io/cluster"] == "" {
		return fmt.Errorf("KafkaTopic needs the strimzi.io/cluster label (the Topic Operator ignores it otherwise)")
	}
	if p := t.Spec.Partitions; p != nil && *p < 1 {
		return fmt.Errorf("spec.partitions: %d is below the minimum 1", *p)
	}
	if r := t.Spec.Replicas; r != nil && (*r < 1 || *r > 32767) {
		return fmt.Errorf("spec.replicas: %d is outside [1, 32767]", *r)
	}
	for k, v := range t.Spec.Config {
		var s string
		var n float64
		var b bool
		var list []string
		if json.Unmarshal(v, &s) != nil && json.Unmarshal(v, &n) != nil && json.Unmarshal(v, &b) != nil &&
			json.Unmarshal(v, &list) != nil {
			return fmt.Errorf("spec.config[%q]: %s is not a string, number, boolean or list of strings", k, v)
		}
	}
	return nil
}

// ScaledObject is KEDA's autoscaling resource (KEDA creates and owns the HPA).
type ScaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ScaledObjectSpec `json:"spec"`
}

type ScaledObjectSpec struct {
	ScaleTargetRef        *ScaleTarget    `json:"scaleTargetRef"`
	PollingInterval       *int32          `json:"pollingInterval,omitempty"`
	InitialCooldownPeriod *int32          `json:"initialCooldownPeriod,omitempty"`
	CooldownPeriod        *int32          `json:"cooldownPeriod,omitempty"`
	IdleReplicaCount      *int32          `json:"idleReplicaCount,omitempty"`
	MinReplicaCount       *int32          `json:"minReplicaCount,omitempty"`
	MaxReplicaCount       *int32          `json:"maxReplicaCount,omitempty"`
	Advanced              *AdvancedConfig `json:"advanced,omitempty"`
	Triggers              []ScaleTriggers `json:"triggers"`
	Fallback              *Fallback       `json:"fallback,omitempty"`
}

type ScaleTarget struct {
	Name                   string `json:"name"`
	APIVersion             string `json:"apiVersion,omitempty"`
	Kind                   string `json:"kind,omitempty"`
	EnvSourceContainerName string `json:"envSourceContainerName,omitempty"`
}

type AdvancedConfig struct {
	HorizontalPodAutoscalerConfig *HorizontalPodAutoscalerConfig `json:"horizontalPodAutoscalerConfig,omitempty"`
	RestoreToOriginalReplicaCount bool                           `json:"restoreToOriginalReplicaCount,omitempty"`
	ScalingModifiers              *ScalingModifiers              `json:"scalingModifiers,omitempty"`
}

type HorizontalPodAutoscalerConfig struct {
	Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
	Name     string                                         `json:"name,omitempty"`
}

type ScalingModifiers struct {
	Formula          string                         `json:"formula,omitempty"`
	Target           string                         `json:"target,omitempty"`
	ActivationTarget string                         `json:"activationTarget,omitempty"`
	MetricType       autoscalingv2.MetricTargetType `json:"metricType,omitempty"`
}

type Fallback struct {
	FailureThreshold int32  `json:"failureThreshold"`
	Replicas         int32  `json:"replicas"`
	Behavior         string `json:"behavior,omitempty"`
}

type ScaleTriggers struct {
	Type             string `json:"type"`
	Name             string `json:"name,omitempty"`
	UseCachedMetrics bool   `json:"useCachedMetrics,omitempty"`
	// Every value a string: KEDA's CRD rejects `threshold: 100` without quotes.
	Metadata          map[string]string              `json:"metadata"`
	AuthenticationRef *AuthenticationRef             `json:"authenticationRef,omitempty"`
	MetricType        autoscalingv2.MetricTargetType `json:"metricType,omitempty"`
}

type AuthenticationRef struct {
	Name string `json:"name"`
	Kind string `json:"kind,omitempty"`
}

func (s *ScaledObject) UnmarshalJSON(data []byte) error {
	type plain ScaledObject
	if err := strictInto(data, (*plain)(s)); err != nil {
		return err
	}
	if s.Spec.ScaleTargetRef == nil || s.Spec.ScaleTargetRef.Name == "" {
		return fmt.Errorf("spec.scaleTargetRef.name is required")
	}
	if len(s.Spec.Triggers) == 0 {
		return fmt.Errorf("spec.triggers needs at least one trigger")
	}
	for i, t := range s.Spec.Triggers {
		if t.Type == "" {
			return fmt.Errorf("spec.triggers[%d].type is required", i)
		}
	}
	if mn, mx := s.Spec.MinReplicaCount, s.Spec.MaxReplicaCount; mn != nil && mx != nil && *mn > *mx {
		return fmt.Errorf("spec.minReplicaCount %d exceeds spec.maxReplicaCount %d", *mn, *mx)
	}
	return nil
}

// strictInto decodes like the outer decoder (case-sensitive, unknown and duplicate fields
// rejected); the custom UnmarshalJSON methods above call it, and then add the CRD's checks.
func strictInto(data []byte, v any) error {
	strictErrs, err := kjson.UnmarshalStrict(data, v, kjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	if len(strictErrs) > 0 {
		return errors.Join(strictErrs...)
	}
	return nil
}
