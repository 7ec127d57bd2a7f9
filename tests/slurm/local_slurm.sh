#!/usr/bin/env bash
# A throwaway single-node Slurm (munged, slurmctld, slurmd as root, no systemd) for tests.
#   local_slurm.sh start DIR   installs slurm-wlm/munge if missing, writes DIR/slurm.conf, starts
#                              the daemons (PIDs in DIR/*.pid) and waits until the node is idle.
#   local_slurm.sh stop DIR    stops exactly the daemons that `start` started.
# Clients must run with SLURM_CONF=DIR/slurm.conf. On failure it prints the daemons' logs.
set -euo pipefail
cmd=${1:?usage: local_slurm.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: local_slurm.sh start|stop DIR}")

dump_logs() {
  for f in "$dir"/*.log; do [ -f "$f" ] && { echo "---- $f"; tail -n 40 "$f"; }; done
}
fail() { echo "local_slurm: $*" >&2; dump_logs >&2; exit 1; }

stop() {
  for name in slurmd slurmctld munged; do
    pidfile="$dir/$name.pid"
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

install_packages() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null ||
    fail "could not install slurm-wlm and munge"
}

start_munge() {
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return; fi  # one is already serving
  mkdir -p /etc/munge /run/munge /var/log/munge /var/lib/munge
  [ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
  chmod 0400 /etc/munge/munge.key
  runuser -u munge -- /usr/sbin/munged --force
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge >/dev/null 2>&1 || fail "munged did not start"
  cp /run/munge/munged.pid "$dir/munged.pid"
}

write_conf() {
  local host mem
  host=$(hostname -s)
  mem=$(( $(awk '/MemAvailable/ {print $2}' /proc/meminfo) / 1024 / 2 ))
  mkdir -p "$dir/ctld" "$dir/d"
  cat > "$dir/slurm.conf" <<CONF
ClusterName=gsttest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmctldPort=${GST_SLURMCTLD_PORT:-6817}
SlurmdPort=${GST_SLURMD_PORT:-6818}
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/d
SlurmctldPidFile=$dir/slurmctld.daemon.pid
SlurmdPidFile=$dir/slurmd.daemon.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc --all) RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
  install_packages
  mkdir -p "$dir"
  start_munge
  write_conf
  export SLURM_CONF="$dir/slurm.conf"
  setsid slurmctld -D -f "$SLURM_CONF" >>"$dir/slurmctld.log" 2>&1 &
  echo $! > "$dir/slurmctld.pid"
  for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
  scontrol ping 2>/dev/null | grep -q UP || fail "slurmctld did not come up"
  setsid slurmd -D -f "$SLURM_CONF" >>"$dir/slurmd.log" 2>&1 &
  echo $! > "$dir/slurmd.pid"
  for _ in $(seq 100); do [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && break; sleep 0.2; done
  [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] || fail "slurmd did not register an idle node"
}

case "$cmd" in
  start) start || { stop; exit 1; } ;;
  stop) stop ;;
  *) echo "usage: local_slurm.sh start|stop DIR" >&2; exit 2 ;;
esac
