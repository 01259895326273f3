#!/usr/bin/env bash
# `make image`: builds docker/Dockerfile with buildah (no Docker engine needed) and smoke-runs
# the built image against a local broker until closed windows appear in sensor-stats.
#
#   1. buildah and debootstrap from Debian's packages, when missing.
#   2. Base images: debian:bookworm / debian:bookworm-slim from a registry when one answers;
#      otherwise (as here) made locally with debootstrap as localhost/debian:bookworm{,-slim},
#      once (kept in buildah's storage).
#   3. buildah bud --isolation=chroot --format docker (Docker format keeps the HEALTHCHECK).
#   4. A broker in <build>/image-kafka (scripts/kafka.sh), the image's sensor-pipeline run with
#      buildah run --isolation=chroot (host network) and its sensor-simulator the same way; the
#      image's HEALTHCHECK command run inside the container; windows read back from
#      sensor-stats; SIGTERM and exit 0 expected.
# Prints the image size and the time of each step. Environment: IMAGE (default
# localhost/sluice/sensor-pipeline:<version>), BUILD_JOBS (2), DEBIAN_MIRROR.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(mkdir -p "${1:-$repo/build}" && cd "${1:-$repo/build}" && pwd)
version=$(sed -n 's/^project(Sluice VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
image=${IMAGE:-localhost/sluice/sensor-pipeline:$version}
work=$build/image
mkdir -p "$work"
t0=$(date +%s)
step() { echo "image: [$(($(date +%s) - t0)) s] $*" >&2; }
die() { echo "image: $*" >&2; exit 1; }

sudo=()
[[ $(id -u) != 0 ]] && sudo=(sudo)

# ---- 1. tools ----------------------------------------------------------------------------------
missing=()
for p in buildah debootstrap; do
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  step "installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
bah=("${sudo[@]}" buildah)

# ---- 2. base images ----------------------------------------------------------------------------
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
registry_reachable() {
  # Any HTTP answer from Docker Hub's registry counts; a DNS or connect failure does not.
  local code
  code=$(curl -s -o /dev/null -m 10 -w '%{http_code}' https://registry-1.docker.io/v2/ 2>/dev/null || true)
  [[ -n $code && $code != 000 ]]
}
have_image() { "${bah[@]}" inspect --type image "$1" >/dev/null 2>&1; }

# debootstrap a minimal bookworm into an image; slim also drops docs, man pages and locales
# (and keeps them out of later installs), as the official -slim image does.
make_base() {
  local name=$1 slim=$2 root=$work/rootfs-$1
  step "debootstrap bookworm ($name) from $mirror"
  "${sudo[@]}" rm -rf "$root"
  "${sudo[@]}" debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap-$name.log" 2>&1 ||
    die "debootstrap failed, see $work/debootstrap-$name.log"
  "${sudo[@]}" tee "$root/etc/apt/sources.list.d/debian.sources" >/dev/null <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  "${sudo[@]}" rm -f "$root/etc/apt/sources.list"
  # Containers never need these, and apt should not keep downloaded packages.
  "${sudo[@]}" tee "$root/etc/apt/apt.conf.d/docker-clean" >/dev/null <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Binary::apt::APT::Keep-Downloaded-Packages "false";
EOF
  if [[ $slim == slim ]]; then
    "${sudo[@]}" tee "$root/etc/dpkg/dpkg.cfg.d/docker" >/dev/null <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
    "${sudo[@]}" find "$root/usr/share/doc" -mindepth 1 -not -name copyright -type f -delete
    "${sudo[@]}" rm -rf "$root"/usr/share/{man,info,groff,lintian,linda,locale}/*
  fi
  # debootstrap leaves the packages it installed in apt's cache (~30 MB).
  "${sudo[@]}" rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log \
    "$root/var/cache/debconf"/*-old
  "${sudo[@]}" tar -C "$root" --numeric-owner -cf "$work/rootfs-$name.tar" .
  local ctr
  ctr=$("${bah[@]}" from scratch)
  "${bah[@]}" add "$ctr" "$work/rootfs-$name.tar" / >/dev/null
  "${bah[@]}" config --cmd bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
  "${bah[@]}" commit --rm -q "$ctr" "localhost/debian:$name" >/dev/null
  "${sudo[@]}" rm -rf "$root" "$work/rootfs-$name.tar"
}

if registry_reachable; then
  step "a registry answers: base images from docker.io"
  build_image=docker.io/library/debian:bookworm
  runtime_image=docker.io/library/debian:bookworm-slim
else
  step "no image registry reachable: local base images made with debootstrap"
  build_image=localhost/debian:bookworm
  runtime_image=localhost/debian:bookworm-slim
  have_image "$build_image" || make_base bookworm full
  have_image "$runtime_image" || make_base bookworm-slim slim
fi

# ---- 3. the image ------------------------------------------------------------------------------
step "buildah bud $image"
"${bah[@]}" bud --isolation=chroot --format docker --layers \
  --build-arg BUILD_IMAGE="$build_image" --build-arg RUNTIME_IMAGE="$runtime_image" \
  --build-arg BUILD_JOBS="${BUILD_JOBS:-2}" \
  -f "$repo/docker/Dockerfile" -t "$image" "$repo" 2>&1 | tee "$work/bud.log" | grep -E '^(STEP|COMMIT)' >&2 ||
  true
have_image "$image" || die "the build failed, see $work/bud.log"
size=$("${bah[@]}" images --json "$image" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["size"])')
step "built $image: $size"

# ---- 4. smoke run ------------------------------------------------------------------------------
export SLUICE_KAFKA_HOME=$build/image-kafka
pipeline_pid=
ctr=
cleanup() {
  if [[ -n $pipeline_pid ]] && kill -0 "$pipeline_pid" 2>/dev/null; then
    kill "$pipeline_pid" 2>/dev/null || true
    wait "$pipeline_pid" 2>/dev/null || true
  fi
  [[ -n $ctr ]] && "${bah[@]}" rm "$ctr" >/dev/null 2>&1 || true
  "$repo/scripts/kafka.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
step "starting a broker in $SLUICE_KAFKA_HOME"
rm -rf "$SLUICE_KAFKA_HOME/data"
eval "$("$repo/scripts/kafka.sh" start | tail -1)"
[[ -n ${BOOTSTRAP_SERVERS:-} ]] || die "the broker did not start"

ctr=$("${bah[@]}" from "$image")
uid=$("${bah[@]}" run --isolation=chroot "$ctr" -- id -u)
[[ $uid == 10001 ]] || die "the image runs as uid $uid, expected 10001"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run_id=smoke-$(date +%s)
step "running the image's sensor-pipeline (uid $uid, metrics on $port)"
"${bah[@]}" run --isolation=chroot \
  --env BOOTSTRAP_SERVERS="$BOOTSTRAP_SERVERS" --env APPLICATION_ID="$run_id" \
  --env PROCESSING_GUARANTEE=exactly_once_v2 --env METRICS_PORT="$port" --env METRICS_HOST=127.0.0.1 \
  --env WINDOW_SECONDS=10 --env GRACE_SECONDS=2 --env PARTITIONS=1 \
  --env SLUICE_INPUT_TOPIC="$run_id-data" --env SLUICE_METADATA_TOPIC="$run_id-meta" \
  --env SLUICE_STATS_TOPIC="$run_id-stats" --env SLUICE_ALERTS_TOPIC="$run_id-alerts" \
  --env SLUICE_DLQ_TOPIC="$run_id-dlq" \
  "$ctr" -- sensor-pipeline >"$work/pipeline.log" 2>&1 &
pipeline_pid=$!
ready=
for _ in $(seq 120); do
  if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$pipeline_pid" 2>/dev/null || { cat "$work/pipeline.log" >&2; die "the pipeline exited"; }
  sleep 1
done
[[ -n $ready ]] || { tail -20 "$work/pipeline.log" >&2; die "/readyz did not answer 200 within 120 s"; }
step "pipeline ready; the image's HEALTHCHECK command inside the container"
health_cmd=$("${bah[@]}" inspect --type image "$image" | /usr/bin/python3 -c '
import json, sys
t = json.load(sys.stdin)["Docker"]["config"]["Healthcheck"]["Test"]
assert t[:3] == ["CMD", "bash", "-c"], t
print(t[3])')
"${bah[@]}" run --isolation=chroot --env METRICS_PORT="$port" "$ctr" -- bash -c "$health_cmd" ||
  die "the HEALTHCHECK command failed against a healthy pipeline"

step "running the image's sensor-simulator (3000 readings)"
start=$(($(date +%s) - 600))
"${bah[@]}" run --isolation=chroot "$ctr" -- sensor-simulator --bootstrap-servers "$BOOTSTRAP_SERVERS" \
  --topic "$run_id-data" --metadata-topic "$run_id-meta" --partitions 1 --sensors 5 --rate 0 \
  --count 3000 --start-time "$start" --step-ms 100 | tail -1 >&2

step "waiting for closed windows in $run_id-stats"
windows=$(/usr/bin/python3 - "$BOOTSTRAP_SERVERS" "$run_id-stats" <<'EOF'
import json, sys, time
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "image-smoke", "auto.offset.reset": "earliest",
              "isolation.level": "read_committed", "enable.auto.commit": False})
c.subscribe([sys.argv[2]])
seen, deadline = 0, time.time() + 120
while time.time() < deadline and seen < 20:
    m = c.poll(1.0)
    if m is None or m.error():
        continue
    v = json.loads(m.value())
    assert {"sensor_id", "window_start", "window_end", "count"} <= v.keys(), v
    seen += 1
c.close()
print(seen)
EOF
)
[[ $windows -gt 0 ]] || { tail -20 "$work/pipeline.log" >&2; die "no windows in $run_id-stats within 120 s"; }
step "$windows windows read back from $run_id-stats"

# buildah run does not forward SIGTERM (it kills its child), so send it, as a container runtime
# does, to the sensor-pipeline process itself: the descendant of our buildah run running it.
descendants() {
  local child
  for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}
target=
for p in $(descendants "$pipeline_pid"); do
  [[ $(cat /proc/"$p"/comm 2>/dev/null) == sensor-pipelin* ]] && target=$p
done
[[ -n $target ]] || die "no sensor-pipeline process under buildah run (pid $pipeline_pid)"
kill -TERM "$target"
status=0
wait "$pipeline_pid" || status=$?
pipeline_pid=
grep -q 'closed cleanly' "$work/pipeline.log" || { tail -20 "$work/pipeline.log" >&2; die "no clean close (exit $status)"; }
step "SIGTERM to the pipeline (pid $target): closed cleanly, exit $status"
((status == 0)) || die "the pipeline exited $status"
echo "image: OK $image ($size) in $(($(date +%s) - t0)) s" >&2
