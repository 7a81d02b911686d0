#!/usr/bin/env bash
# Recording stand-in for a cloud/build CLI (az, kubectl, helm, eksctl, aws, docker, npm, npx, curl): the
# flow test links every CLI name to this file. It sends its name, working folder, argv and stdin to the
# test's resource model over loopback (bash's /dev/tcp, so a call costs no process start-up beyond bash)
# and replays the answer: exit code, stdout, stderr. For the few commands the model passes through
# (kubectl kustomize, npm run check-manifests) it runs the real program named in SURGE_REAL_<NAME>.
set -u
export LC_ALL=C
name=${0##*/}
port=${SURGE_STANDIN_PORT:?stand-in $name: SURGE_STANDIN_PORT is not set (run it from the flow test)}
exec 3<>"/dev/tcp/127.0.0.1/$port" || { echo "stand-in $name: the flow test's model does not answer on 127.0.0.1:$port" >&2; exit 97; }
stdin=""
if [ ! -t 0 ]; then
  # keep trailing newlines: append a marker and strip it
  stdin=$(cat; printf x)
  stdin=${stdin%x}
fi
# request: NUL-separated name, cwd, argc, argv…, stdin length, then the stdin bytes
{ printf '%s\0' "$name" "$PWD" "$#" "$@" "${#stdin}"; printf '%s' "$stdin"; } >&3
# answer: exit code line, mode line (answer|pass), stdout length line, stdout bytes, then stderr to the end
IFS= read -r code <&3 || { echo "stand-in $name: no answer from the model" >&2; exit 98; }
IFS= read -r mode <&3
IFS= read -r length <&3
out=""
if [ "$length" -gt 0 ]; then IFS= read -r -d '' -N "$length" out <&3; fi
err=$(cat <&3; printf x)
err=${err%x}
exec 3<&-
if [ "$mode" = pass ]; then
  real_var="SURGE_REAL_${name^^}"
  real=${!real_var:?stand-in $name: $real_var is not set}
  exec "$real" "$@" < <(printf '%s' "$stdin")
fi
printf '%s' "$out"
printf '%s' "$err" >&2
exit "$code"
