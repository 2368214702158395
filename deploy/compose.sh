#!/usr/bin/env bash
# `make compose-up` / `make compose-down`: the Docker stack (docker-compose.yml) built and started on this machine,
# or taken down. `up` returns once every service is healthy, the studio answering on 127.0.0.1:$WEB_PORT.
#
#   deploy/compose.sh up | down | ps | logs [SERVICE...] | exec SERVICE COMMAND...
#
# Environment:
#   COMPOSE_ENV_FILE   the secrets (default .env; `up` writes one with fresh random values from .env.example
#                      when there is none)
#   DOCKER_IMAGES      public: python:3.11-slim and the official postgres, redis and MinIO images;
#                      debian: everything built from Debian's packages (deploy/docker-compose.debian.yml);
#                      auto (default): public where python:3.11-slim can be pulled, else debian
#   GPU=1              CUDA workers (deploy/docker-compose.gpu.yml)
#   TORCH_WHEEL        a torch wheel on disk for the image (the Makefile's), copied into deploy/wheels/
#   COMPOSE_PROJECT_NAME (default t2i-studio), WEB_PORT (default 8000), UP_TIMEOUT_S (default 900)
# Where no Docker daemon answers, `up` installs Debian's docker.io and docker-compose and starts dockerd.
set -euo pipefail
cd "$(dirname "$0")/.."
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-t2i-studio}"
env_file="${COMPOSE_ENV_FILE:-.env}"
images_file="var/compose-images-$COMPOSE_PROJECT_NAME"  # what `up` chose, so that `down` takes down the same files

log() { echo "compose: $*" >&2; }

docker_ensure() {
  docker info >/dev/null 2>&1 && return 0
  if ! command -v dockerd >/dev/null || ! command -v docker-compose >/dev/null; then
    log "installing docker.io and docker-compose"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose >/dev/null
  fi
  if ! docker info >/dev/null 2>&1; then
    log "starting dockerd (log: /var/log/dockerd.log)"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && return 0; sleep 1; done
    log "dockerd did not start:"; tail -20 /var/log/dockerd.log >&2; return 1
  fi
}

compose_cli() {
  if command -v docker-compose >/dev/null; then echo docker-compose; else echo docker compose; fi
}

env_file_ensure() {
  [ -f "$env_file" ] && return 0
  log "writing $env_file with fresh random secrets (from .env.example)"
  python3 - "$env_file" <<'PY'
import secrets, sys
out = []
for line in open(".env.example"):
    key, sep, value = line.rstrip("\n").partition("=")
    if sep and not key.startswith("#") and value == "":
        value = secrets.token_hex(24)  # URL-safe: the passwords go into service URLs
    out.append(f"{key}{sep}{value}")
with open(sys.argv[1], "w") as f:
    f.write("\n".join(out) + "\n")
PY
  chmod 600 "$env_file"
}

images_choose() {
  local choice="${DOCKER_IMAGES:-auto}"
  if [ "$choice" = auto ]; then
    if docker image inspect python:3.11-slim >/dev/null 2>&1 || timeout 60 docker pull -q python:3.11-slim >/dev/null 2>&1
    then choice=public; else choice=debian; fi
    log "images: $choice (DOCKER_IMAGES=public|debian chooses)"
  fi
  case "$choice" in public | debian) echo "$choice" ;; *) log "DOCKER_IMAGES=$choice: use public, debian or auto"; return 1 ;; esac
}

files_for() {
  local files=(-f docker-compose.yml)
  [ "$1" = debian ] && files+=(-f deploy/docker-compose.debian.yml)
  [ "${GPU:-0}" = 1 ] && files+=(-f deploy/docker-compose.gpu.yml)
  echo "${files[@]}"
}

torch_wheel_stage() {
  rm -f deploy/wheels/torch-*.whl
  [ -n "${TORCH_WHEEL:-}" ] && [ -f "$TORCH_WHEEL" ] || return 0
  ln -f "$TORCH_WHEEL" deploy/wheels/ 2>/dev/null || cp "$TORCH_WHEEL" deploy/wheels/
}

# Every container of the project healthy (one-shot ones exited 0), or fail with the unhealthy one's log.
wait_healthy() {
  local compose=("$@") deadline=$((SECONDS + ${UP_TIMEOUT_S:-900}))
  while true; do
    local pending=() id name state health code
    for id in $("${compose[@]}" ps -q); do
      read -r name state health code < <(docker inspect -f \
        '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}' "$id")
      if [ "$state" = exited ] && [ "$code" = 0 ] && [ "$health" = none ]; then continue; fi
      if [ "$health" = unhealthy ] || { [ "$state" = exited ] && [ "$code" != 0 ]; }; then
        log "$name is $state/$health:"; docker logs --tail 60 "$id" >&2; return 1
      fi
      [ "$health" = healthy ] || [ "$health" = none ] && [ "$state" = running ] || pending+=("$name")
    done
    [ ${#pending[@]} = 0 ] && return 0
    if [ $SECONDS -gt $deadline ]; then log "still starting after ${UP_TIMEOUT_S:-900} s: ${pending[*]}"; return 1; fi
    sleep 3
  done
}

# The log of every container that is neither healthy, running without a health check, nor a finished one-shot.
report_unready() {
  local id name state health code
  for id in $("$@" ps -q); do
    read -r name state health code < <(docker inspect -f \
      '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}' "$id")
    case "$state/$health/$code" in running/healthy/* | running/none/* | exited/none/0) continue ;; esac
    log "$name is $state/$health:"; docker logs --tail 60 "$id" >&2
  done
}

command="${1:-up}"
shift || true
case "$command" in
  up)
    docker_ensure
    env_file_ensure
    images="$(images_choose)"
    mkdir -p var && echo "$images" >"$images_file"
    start=$SECONDS
    if [ "$images" = debian ]; then
      deploy/base-image.sh "${DEBIAN_BASE_IMAGE:-t2i-debian:bookworm}"
      log "base image: $((SECONDS - start)) s"
    fi
    torch_wheel_stage
    read -ra files <<<"$(files_for "$images")"
    compose=($(compose_cli) "${files[@]}" --env-file "$env_file")
    # one build per image: the studio's services share t2i-studio, built once through web
    builds=(); [ "$images" = debian ] && builds+=(postgres redis); builds+=(web); [ "${GPU:-0}" = 1 ] && builds+=(worker)
    for service in "${builds[@]}"; do
      began=$SECONDS
      "${compose[@]}" build "$service"
      log "image of $service: $((SECONDS - began)) s"
    done
    built=$SECONDS
    # compose v1 stops at the first dependency that turns unhealthy; its log is worth more than compose's message
    "${compose[@]}" up -d --remove-orphans || { report_unready "${compose[@]}"; exit 1; }
    wait_healthy "${compose[@]}"
    log "images in $((built - start)) s, every service healthy $((SECONDS - built)) s later:" \
      "http://127.0.0.1:${WEB_PORT:-8000}/"
    docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^t2i-' >&2 || true
    ;;
  down | ps | logs | exec)
    images="$(cat "$images_file" 2>/dev/null || echo public)"
    read -ra files <<<"$(files_for "$images")"
    compose=($(compose_cli) "${files[@]}" --env-file "$env_file")
    if [ "$command" = down ]; then
      docker info >/dev/null 2>&1 || { log "no Docker daemon: nothing runs"; exit 0; }
      # moto's S3 keeps objects in memory: the database and registry go with them, or they would name lost files
      volumes=(); [ "$images" = debian ] && volumes=(--volumes)
      if [ -f "$env_file" ]; then
        "${compose[@]}" down --remove-orphans "${volumes[@]}"
      else  # without its env file compose cannot read the stack: remove the project's containers by label
        label="label=com.docker.compose.project=$COMPOSE_PROJECT_NAME"
        docker ps -aq --filter "$label" | xargs -r docker rm -f >/dev/null
        docker network ls -q --filter "$label" | xargs -r docker network rm >/dev/null
        [ "$images" = debian ] && docker volume ls -q --filter "$label" | xargs -r docker volume rm >/dev/null
      fi
      rm -f "$images_file"
    elif [ "$command" = exec ]; then
      "${compose[@]}" exec -T "$@"
    else
      "${compose[@]}" "$command" "$@"
    fi
    ;;
  *) log "usage: deploy/compose.sh up|down|ps|logs|exec"; exit 2 ;;
esac
