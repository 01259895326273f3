#!/usr/bin/env bash
# Offline checks of docker/ (ctest deploy_chart_*_test, deploy_compose_test):
#   render    helm lint --strict and helm template for every value set (values-*.yaml here),
#             each render decoded strictly by deploy-validate, and the kinds each must hold
#   misspelt  one mutation at a time of a valid render (a misspelt field, a wrong type, a bad
#             quantity, an unknown kind, a duplicate key) must be rejected, naming the problem
#   values    values the chart must refuse: an unknown key (values.schema.json), more pods
#             than partitions, SASL without credentials, min.insync.replicas above replicas
#   compose   docker/compose.yaml loads with compose-go (schema, references); a misspelt key
#             in it is rejected
# Environment (set by CMake): DEPLOY_TOOLS (helm, deploy-validate), CHART, COMPOSE, WORK.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
helm=$DEPLOY_TOOLS/helm
validate=$DEPLOY_TOOLS/deploy-validate
work=${WORK:?}
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# render NAME [helm args...]: the chart rendered to $work/NAME.yaml.
render() {
  local name=$1
  shift
  "$helm" template sensors "$CHART" --namespace sensors "$@" >"$work/$name.yaml"
}

# expect_rejected WHAT PATTERN CMD...: CMD must fail and its output must match PATTERN.
expect_rejected() {
  local what=$1 pattern=$2
  shift 2
  local out
  if out=$("$@" 2>&1); then
    fail "$what: accepted"
  elif grep -qE -- "$pattern" <<<"$out"; then
    pass "$what: rejected ($(grep -oE -- "$pattern" <<<"$out" | head -1))"
  else
    fail "$what: rejected, but without /$pattern/: $out"
  fi
}

case $1 in
render)
  # name, values file(s), and the kinds the render must (+) and must not (-) hold.
  cases=(
    "default||+StatefulSet +ConfigMap +Service +ServiceMonitor +PrometheusRule +PodDisruptionBudget +NetworkPolicy +HorizontalPodAutoscaler +KafkaTopic +ServiceAccount -ScaledObject -Secret -Deployment"
    "keda|$here/values-keda.yaml|+ScaledObject -HorizontalPodAutoscaler"
    "secure|$here/values-secure.yaml|+Secret +Deployment -HorizontalPodAutoscaler -ScaledObject -ServiceMonitor -KafkaTopic"
    "keyed|$here/values-keyed.yaml|+KafkaTopic"
  )
  for c in "${cases[@]}"; do
    IFS='|' read -r name values kinds <<<"$c"
    args=()
    [[ -n $values ]] && args=(-f "$values")
    if ! out=$("$helm" lint --strict "$CHART" --namespace sensors "${args[@]}" 2>&1); then
      fail "helm lint ($name): $out"
      continue
    fi
    if ! render "$name" "${args[@]}" 2>"$work/$name.err"; then
      fail "helm template ($name): $(cat "$work/$name.err")"
      continue
    fi
    if ! out=$("$validate" "$work/$name.yaml" 2>&1); then
      fail "deploy-validate ($name): $out"
      continue
    fi
    pass "$name: lint, render, $out"
    for k in $kinds; do
      n=$(grep -c "^kind: ${k:1}\$" "$work/$name.yaml" || true)
      if [[ ${k:0:1} == + && $n == 0 ]]; then fail "$name: no ${k:1}"; fi
      if [[ ${k:0:1} == - && $n != 0 ]]; then fail "$name: unexpected ${k:1}"; fi
    done
  done
  # The configuration each pod gets (-pod-env resolves ConfigMap, Secret, fieldRefs, $(VAR)).
  if env=$("$validate" -pod-env sensors-sluice-sensor-pipeline -ordinal 2 -namespace sensors "$work/secure.yaml"); then
    before=$failures
    for want in '"GROUP_INSTANCE_ID":"sensors-sluice-sensor-pipeline-2"' \
      '"APPLICATION_SERVER":"sensors-sluice-sensor-pipeline-2.sensors-sluice-sensor-pipeline-headless.sensors.svc.cluster.local:8080"' \
      '"SASL_PASSWORD":"test-password"' '"SECURITY_PROTOCOL":"SASL_SSL"' \
      '"SSL_CA_LOCATION":"/etc/sluice/tls/ca/ca.crt"'; do
      grep -qF "$want" <<<"$env" || fail "pod env lacks $want: $env"
    done
    ((failures == before)) && pass "pod environment of ordinal 2 resolved"
  else
    fail "deploy-validate -pod-env"
  fi
  ;;

misspelt)
  render default
  render keda -f "$here/values-keda.yaml"
  render none --set autoscaling.mode=none
  # The unmutated renders pass, so each rejection below is the mutation's doing.
  for f in default keda none; do
    "$validate" "$work/$f.yaml" >/dev/null || fail "the unmutated $f render is rejected"
  done
  # mutate NAME SOURCE SED-EXPRESSION PATTERN: apply one edit (it must change the render).
  mutate() {
    local name=$1 src=$2 expr=$3 pattern=$4
    sed -e "$expr" "$work/$src.yaml" >"$work/m-$name.yaml"
    if cmp -s "$work/$src.yaml" "$work/m-$name.yaml"; then
      fail "$name: the mutation changed nothing (the render moved on; update this test)"
      return
    fi
    expect_rejected "$name" "$pattern" "$validate" "$work/m-$name.yaml"
  }
  mutate misspelt-pod-field default 's/terminationGracePeriodSeconds:/terminationGracePeriodSecond:/' \
    'unknown field "spec.template.spec.terminationGracePeriodSecond"'
  mutate misspelt-probe default 's/readinessProbe:/readynessProbe:/' 'unknown field "spec.template.spec.containers\[0\].readynessProbe"'
  mutate wrong-case default 's/  serviceName:/  ServiceName:/' 'unknown field "spec.ServiceName"'
  mutate replicas-as-string none 's/^  replicas: \([0-9]*\)$/  replicas: "\1"/' 'cannot unmarshal string into Go struct field .*replicas of type int32'
  mutate bad-quantity default '0,/memory: [0-9]*Mi/s/memory: \([0-9]*\)Mi/memory: \1MiB/' 'quantities must match the regular expression'
  mutate misspelt-hpa default 's/averageUtilization:/averageUtilisation:/' 'unknown field "spec.metrics\[0\].resource.target.averageUtilisation"'
  mutate misspelt-kafkatopic default '0,/  partitions:/s/  partitions:/  partition:/' 'unknown field "spec.partition"'
  mutate kafkatopic-no-cluster default '0,/strimzi.io\/cluster:/{/strimzi.io\/cluster:/d}' 'needs the strimzi.io/cluster label'
  mutate misspelt-servicemonitor default 's/  endpoints:/  endpoint:/' 'unknown field "spec.endpoint"'
  mutate keda-number-metadata keda 's/threshold: "\([0-9]*\)"/threshold: \1/' 'cannot unmarshal number into Go struct field .*metadata of type string'
  mutate unknown-kind default 's/^kind: PodDisruptionBudget$/kind: PodDisruptionBudgett/' 'unsupported apiVersion/kind policy/v1/PodDisruptionBudgett'
  mutate duplicate-key default 's/^  podManagementPolicy: Parallel$/  podManagementPolicy: Parallel\n  podManagementPolicy: OrderedReady/' 'key "podManagementPolicy" already set'
  mutate bad-selector default '0,/^      app.kubernetes.io\/component: pipeline$/s//      app.kubernetes.io\/component: pipelin/' 'NetworkPolicy/.*spec.podSelector matches no pod of this render'
  mutate broken-dashboard default 's/^    {$/    {,/' 'is not valid JSON'
  ;;

values)
  expect_rejected "misspelt value" "additional properties 'aplicationId' not allowed|aplicationId" \
    "$helm" template sensors "$CHART" --set pipeline.aplicationId=x
  expect_rejected "wrong value type" "numStreamThreads': got string, want integer" \
    "$helm" template sensors "$CHART" --set-string pipeline.numStreamThreads=two
  expect_rejected "maxReplicas above partitions" "exceeds topics.partitions" \
    "$helm" template sensors "$CHART" --set autoscaling.maxReplicas=7
  expect_rejected "threads x pods above partitions" "exceeds topics.partitions" \
    "$helm" template sensors "$CHART" --set pipeline.numStreamThreads=2
  expect_rejected "SASL without credentials" "set kafka.sasl.existingSecret" \
    "$helm" template sensors "$CHART" --set kafka.securityProtocol=SASL_PLAINTEXT --set kafka.sasl.mechanism=PLAIN
  expect_rejected "min.insync.replicas above replicas" "exceeds topics.replicationFactor" \
    "$helm" template sensors "$CHART" --set topics.replicationFactor=1
  expect_rejected "grace period shorter than a clean close" "terminationGracePeriodSeconds" \
    "$helm" template sensors "$CHART" --set terminationGracePeriodSeconds=10
  # The memory limit is the sum of the budgets the ConfigMap configures.
  render default
  mib=$((64 + 16 + 3 * 16 + 16 + 160))
  if grep -q "memory: ${mib}Mi" "$work/default.yaml" &&
    grep -q "SLUICE_ROCKSDB_BLOCK_CACHE_BYTES: \"$((64 << 20))\"" "$work/default.yaml"; then
    pass "memory limit ${mib}Mi = the budgets the pipeline is configured with"
  else
    fail "memory limit is not ${mib}Mi or the RocksDB budget is missing"
  fi
  ;;

compose)
  if out=$("$validate" -compose "$COMPOSE" 2>&1); then
    pass "$out"
    for svc in kafka pipeline; do
      grep -qE "$svc \(healthcheck " <<<"$out" || fail "$svc has no health check"
    done
  else
    fail "compose: $out"
  fi
  sed 's/^    healthcheck:/    healthchek:/' "$COMPOSE" >"$work/compose-misspelt.yaml"
  expect_rejected "misspelt compose key" "healthchek" "$validate" -compose "$work/compose-misspelt.yaml"
  sed 's/^      retries: 12$/      retries: twelve/' "$COMPOSE" >"$work/compose-type.yaml"
  expect_rejected "wrong compose type" 'services.kafka.healthcheck.retries: failed to cast' "$validate" -compose "$work/compose-type.yaml"
  sed '0,/^        condition: service_healthy$/s//        condition: service_healthy\n      zookeeper:\n        condition: service_started/' \
    "$COMPOSE" >"$work/compose-ref.yaml"
  expect_rejected "depends_on an undefined service" 'depends on undefined service "zookeeper"' "$validate" -compose "$work/compose-ref.yaml"
  ;;

*)
  echo "usage: $0 render|misspelt|values|compose" >&2
  exit 2
  ;;
esac

if ((failures)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
