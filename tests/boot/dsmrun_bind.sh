#!/usr/bin/env bash
# dsmrun --bind-to: by default each local node is bound to its own CPU, round
# robin when the nodes outnumber the CPUs; --bind-to none leaves every node
# dsmrun's whole CPU set. Usage: dsmrun_bind.sh <dsmrun>
set -u
dsmrun=$1
mine=$(awk '/^Cpus_allowed_list:/ {print $2}' /proc/self/status)
ncpus=$(nproc)
if ((ncpus < 2)); then
  echo "SKIP: needs at least 2 CPUs, this process may use $ncpus"
  exit 77
fi
show='awk "/^Cpus_allowed_list:/ {print ENVIRON[\"DSM_RANK\"], \$2}" /proc/self/status'
failed=0
check() { # name, expected sorted "rank cpus" lines, dsmrun args...
  local name=$1 want=$2 got
  shift 2
  got=$("$dsmrun" "$@" -- /bin/sh -c "$show" | sort)
  if [[ $got != "$want" ]]; then
    printf 'FAIL %s:\n  got:  %s\n  want: %s\n' "$name" "${got//$'\n'/; }" "${want//$'\n'/; }"
    failed=1
  else
    echo "PASS $name"
  fi
}
cpu() { # the i-th CPU of this process's set, from its list ("0-3,6")
  local -a list
  mapfile -t list < <(IFS=,; for r in $mine; do
    if [[ $r == *-* ]]; then seq "${r%-*}" "${r#*-}"; else echo "$r"; fi
  done)
  echo "${list[$1]}"
}
check default_binds "0 $(cpu 0)"$'\n'"1 $(cpu 1)" -n 2
check none_unbound "0 $mine"$'\n'"1 $mine" -n 2 --bind-to none
over=$((ncpus + 1))
want=$(for ((r = 0; r < over; r++)); do echo "$r $(cpu $((r % ncpus)))"; done | sort)
check oversubscribed_round_robin "$want" -n "$over" --oversubscribe
if ((failed)); then
  echo "0 passed, 1 failed"
  exit 1
fi
