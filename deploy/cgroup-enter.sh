#!/bin/sh
# Starts the server one cgroup level down, so that it can place sandbox cgroups next to itself.
#
# On cgroup v2 a group that holds processes cannot hand controllers (memory, pids, cpu) to child groups, so
# src/sandbox/cgroup-layout.ts puts the sandbox groups in a folder beside the server's own group, i.e. in the
# parent of that group. Under systemd (Delegate=yes) and in a container with its own cgroup namespace, the
# server's own group is the delegated one (the service's group, or the namespace root) and its parent is not
# ours to write. Moving this shell into a child group "server" first makes the delegated group the parent:
# the server then lives in <delegated>/server and the sandboxes in <delegated>/<sandbox folder>.
#
# On cgroup v1, or when the cgroup file system is read-only, it changes nothing and the server finds out for
# itself (/health then says which limits are per process only).
set -eu

root=/sys/fs/cgroup
if [ -f "$root/cgroup.controllers" ]; then
  # "0::/system.slice/ai-tutor-backend.service" under systemd, "0::/" in a private cgroup namespace
  own=$(sed -n 's/^0:://p' /proc/self/cgroup)
  group="$root${own%/}"
  if [ "$(basename "$group")" != server ] && [ -w "$group/cgroup.procs" ]; then
    if mkdir -p "$group/server" 2>/dev/null && echo $$ >"$group/server/cgroup.procs" 2>/dev/null; then
      :
    else
      echo "cgroup-enter: could not move into $group/server; sandbox cgroups may be unavailable" >&2
    fi
  fi
fi

exec "$@"
