#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for tests and CI.
#
#   tests/slurm/cluster.sh start    # munge + slurmctld + slurmd; waits until the node is idle
#   tests/slurm/cluster.sh status   # daemons, node state, queue; exit 0 only when the node is usable
#   tests/slurm/cluster.sh stop     # stops the daemons this script started (and only those)
#
# Needs root and the Debian packages: apt-get install -y slurmctld slurmd slurm-client munge
# (Slurm 22.05 on Debian 12).
#
# The node is this machine: CPUs = nproc, RealMemory = 90% of MemTotal (PVIGROUP_SLURM_MEM_MB
# overrides), one fake GPU (gres.conf `Name=gpu File=/dev/null`) so that jobs asking `--gpus=1`
# schedule; such a job sees CUDA_VISIBLE_DEVICES but no device and must fall back to the CPU.
# There is no accounting daemon, so clients must use `squeue`, not `sacct` (see slurm/config.yaml);
# finished jobs stay visible to squeue for MinJobAge=300 s.
#
# Idempotent: `start` on a running cluster only waits for the node; `stop` kills by the pids it
# recorded under $PVIGROUP_SLURM_STATE (default /tmp/pvigroup-slurm) when it started them.
# /etc/slurm/slurm.conf is written only if it is absent or was written by this script.
set -euo pipefail

STATE=${PVIGROUP_SLURM_STATE:-/tmp/pvigroup-slurm}
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
GRES=$CONF_DIR/gres.conf
MARK="# written by pvigroup tests/slurm/cluster.sh"
PARTITION=${PVIGROUP_SLURM_PARTITION:-main}
TIMEOUT=${PVIGROUP_SLURM_START_TIMEOUT:-60}

say() { echo "cluster.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

alive() {  # alive PIDFILE -> 0 when the pid in the file is a running process
    [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

need_root() {
    [[ $(id -u) -eq 0 ]] || die "must run as root (daemons, /etc/slurm, /run)"
    for bin in munged slurmctld slurmd sinfo sbatch squeue scontrol; do
        command -v "$bin" >/dev/null || [[ -x /usr/sbin/$bin ]] \
            || die "$bin not found; install: apt-get install -y slurmctld slurmd slurm-client munge"
    done
}

write_if_ours() {  # write_if_ours PATH CONTENT
    local path=$1 content=$2
    if [[ -e $path ]] && ! grep -qF "$MARK" "$path"; then
        die "$path exists and was not written by this script; move it away or run against that cluster"
    fi
    if [[ ! -e $path ]] || [[ $(cat "$path") != "$content" ]]; then
        printf '%s\n' "$content" >"$path"
        say "wrote $path"
    fi
}

start_munge() {
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        say "created /etc/munge/munge.key"
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    if alive /run/munge/munged.pid; then
        return
    fi
    su -s /bin/sh munge -c /usr/sbin/munged
    for _ in $(seq 50); do alive /run/munge/munged.pid && break; sleep 0.1; done
    alive /run/munge/munged.pid || die "munged did not start (see /var/log/munge/munged.log)"
    echo "munged $(cat /run/munge/munged.pid)" >>"$STATE/started"
    say "started munged"
}

write_conf() {
    local host cpus mem_mb
    host=$(hostname -s)
    cpus=$(nproc)
    mem_mb=${PVIGROUP_SLURM_MEM_MB:-$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)}
    mkdir -p "$CONF_DIR" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
    write_if_ours "$CONF" "$MARK
ClusterName=pvigroup
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
# no cgroup setup needed: processes are tracked by parent pid, tasks are not bound
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
GresTypes=gpu
# no slurmdbd: sacct cannot answer, clients use squeue (slurm-status-command: squeue)
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# finished jobs stay visible to squeue for 5 min (> the executor's 180 s polling ceiling)
MinJobAge=300
# scancel/preemption: SIGTERM to every process of the job, SIGKILL KillWait seconds later
KillWait=30
InactiveLimit=0
SlurmdTimeout=300
NodeName=$host CPUs=$cpus RealMemory=$mem_mb Gres=gpu:1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP"
    write_if_ours "$GRES" "$MARK
# a fake GPU: jobs asking --gpus=1 schedule, one at a time; they see no CUDA device
Name=gpu File=/dev/null"
}

node_state() {
    sinfo -h -p "$PARTITION" -o %T 2>/dev/null | head -n1 || true
}

start() {
    need_root
    mkdir -p "$STATE"
    start_munge
    write_conf
    if ! alive /run/slurmctld.pid; then
        /usr/sbin/slurmctld
        for _ in $(seq 50); do alive /run/slurmctld.pid && break; sleep 0.1; done
        alive /run/slurmctld.pid || die "slurmctld did not start (see /var/log/slurm/slurmctld.log)"
        echo "slurmctld $(cat /run/slurmctld.pid)" >>"$STATE/started"
        say "started slurmctld"
    fi
    if ! alive /run/slurmd.pid; then
        /usr/sbin/slurmd
        for _ in $(seq 50); do alive /run/slurmd.pid && break; sleep 0.1; done
        alive /run/slurmd.pid || die "slurmd did not start (see /var/log/slurm/slurmd.log)"
        echo "slurmd $(cat /run/slurmd.pid)" >>"$STATE/started"
        say "started slurmd"
    fi
    local state=""
    for _ in $(seq $((TIMEOUT * 2))); do
        state=$(node_state)
        case $state in
            idle | mixed | allocated | completing) break ;;
            down* | drain* | inval*)
                scontrol update NodeName="$(hostname -s)" State=RESUME 2>/dev/null || true ;;
        esac
        sleep 0.5
    done
    case $state in
        idle | mixed | allocated | completing) say "node $(hostname -s) is $state (partition $PARTITION)" ;;
        *) die "node not usable after ${TIMEOUT}s (state '${state}'); see /var/log/slurm/*.log" ;;
    esac
}

stop() {
    if [[ ! -s $STATE/started ]]; then
        say "nothing to stop (no daemon was started by this script)"
        return
    fi
    # reverse order: slurmd, slurmctld, munged
    tac "$STATE/started" | while read -r name pid; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            if kill -0 "$pid" 2>/dev/null; then
                kill -9 "$pid" 2>/dev/null || true
            fi
            say "stopped $name ($pid)"
        fi
    done
    rm -f "$STATE/started"
}

status() {
    local ok=0
    for pidfile in /run/munge/munged.pid /run/slurmctld.pid /run/slurmd.pid; do
        if alive "$pidfile"; then
            echo "$(basename "$pidfile" .pid): running ($(cat "$pidfile"))"
        else
            echo "$(basename "$pidfile" .pid): not running"
            ok=1
        fi
    done
    if [[ -s $STATE/started ]]; then
        echo "started by this script: $(awk '{print $1}' "$STATE/started" | paste -sd' ')"
    fi
    sinfo -o "%P %N %c %m %G %T" 2>/dev/null || ok=1
    squeue 2>/dev/null || true
    case $(node_state) in
        idle | mixed | allocated | completing) ;;
        *) ok=1 ;;
    esac
    return $ok
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
