#!/usr/bin/env bash
# s3-server.sh start|stop DIR — a throwaway S3-compatible server on loopback for the tests
# and benchmarks: OpenStack Swift (Debian packages `swift swift-proxy swift-object
# swift-container swift-account memcached`, installed by .ci/run) as one node with
# replicas=1, the s3api and tempauth middleware, and memcached. Everything lives under DIR:
# configs, rings, data, logs, pid files.
#
#   start DIR   picks free loopback ports, starts the servers, waits until a signed S3
#               request succeeds, and writes DIR/s3.env (KEY=VALUE lines: S3_ENDPOINT,
#               S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION); prints S3_ENDPOINT.
#   stop DIR    stops the processes recorded in DIR/run/*.pid (only those); DIR is kept.
#
# Works as root (CI) and as a plain user. Each server runs in its own session (setsid):
# Swift's SIGTERM handler kills its whole process group, which would otherwise take the
# calling shell — or a CI run — down with it. Swift is a Python program installed for
# Debian's /usr/bin/python3, so that interpreter is used, never a venv's.
# Exit status: 0 on success, 2 for usage errors, 3 when Swift is not installed, 1 otherwise.
set -euo pipefail

PY=/usr/bin/python3
ACCESS_ACCOUNT=test
ACCESS_USER=tester
SECRET=testing
REGION=us-east-1
log() { echo "[s3-server] $*" >&2; }
usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }

[[ $# -eq 2 ]] || usage
CMD=$1
DIR=$2
[[ -n $DIR ]] || usage
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

stop() {
  local run=$DIR/run pids=() alive=()
  [[ -d $run ]] || return 0
  for f in "$run"/*.pid; do
    [[ -e $f ]] || continue
    local pid
    pid=$(cat "$f")
    # Only a process that is still one of ours (PID reuse): its command line names DIR.
    if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$DIR/"; then
      kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    fi
    rm -f "$f"
  done
  for _ in $(seq 1 50); do
    alive=()
    for p in "${pids[@]}"; do # a zombie has stopped, it is only waiting to be reaped
      [[ -r /proc/$p/stat && $(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) != Z ]] && alive+=("$p")
    done
    ((${#alive[@]})) || break
    sleep 0.2
  done
  for p in "${alive[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  log "stopped ${#pids[@]} process(es)"
}

case $CMD in
  stop) stop; exit 0 ;;
  start) ;;
  *) usage ;;
esac

missing=()
for b in swift-proxy-server swift-object-server swift-container-server swift-account-server memcached; do
  command -v "$b" >/dev/null 2>&1 || missing+=("$b")
done
if ((${#missing[@]})) || [[ ! -x $PY ]]; then
  log "not installed: ${missing[*]:-$PY} (apt-get install swift swift-proxy swift-object swift-container swift-account memcached)"
  exit 3
fi
# Swift always reads /etc/swift/swift.conf (hash path prefix/suffix, storage policies);
# the Debian package ships one. Write a minimal one only when there is none.
if ! grep -qs '^\[swift-hash\]' /etc/swift/swift.conf; then
  mkdir -p /etc/swift
  printf '[swift-hash]\nswift_hash_path_suffix = mvtest\nswift_hash_path_prefix = mvtest\n[storage-policy:0]\nname = Policy-0\ndefault = yes\n' \
    >/etc/swift/swift.conf
fi

stop # a previous run in the same DIR
mkdir -p "$DIR"/{etc,data/node/d1,log,run,cache}
rm -f "$DIR/s3.env"
RUNUSER=$(id -un)

# Five free loopback ports (proxy, object, container, account, memcached), held open
# together while choosing so that they differ.
read -r PORT OBJ_PORT CONT_PORT ACCT_PORT MC_PORT < <($PY -c '
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
')

common() { # $1=port
  cat <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $1
workers = 0
user = $RUNUSER
swift_dir = $DIR/etc
devices = $DIR/data/node
mount_check = false
disable_fallocate = true
fallocate_reserve = 0
recon_cache_path = $DIR/cache
log_level = WARNING
# no /dev/log here: syslog copies go to a dead UDP port; the real log is DIR/log/*.log
log_udp_host = 127.0.0.1
log_udp_port = 9
EOF
}
for s in object:$OBJ_PORT container:$CONT_PORT account:$ACCT_PORT; do
  n=${s%%:*}
  {
    common "${s##*:}"
    printf '\n[pipeline:main]\npipeline = healthcheck %s-server\n\n[app:%s-server]\nuse = egg:swift#%s\n' "$n" "$n" "$n"
    [[ $n == object ]] && printf 'network_chunk_size = 1048576\ndisk_chunk_size = 1048576\n'
    printf '\n[filter:healthcheck]\nuse = egg:swift#healthcheck\n'
    # retries container-listing updates that timed out during an object PUT
    [[ $n == object ]] && printf '\n[object-updater]\ninterval = 10\nconcurrency = 1\n'
  } >"$DIR/etc/$n-server.conf"
done
{
  common "$PORT"
  cat <<EOF

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
object_chunk_size = 1048576
client_chunk_size = 1048576

[filter:s3api]
use = egg:swift#s3api
location = $REGION
s3_acl = false
dns_compliant_bucket_names = true
allow_multipart_uploads = true

[filter:tempauth]
use = egg:swift#tempauth
user_${ACCESS_ACCOUNT}_${ACCESS_USER} = $SECRET .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MC_PORT

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
EOF
} >"$DIR/etc/proxy-server.conf"

# Rings: one device, one replica, part power 8 (cheap enough to rebuild at every start).
$PY - "$DIR/etc" "$OBJ_PORT" "$CONT_PORT" "$ACCT_PORT" <<'EOF'
import sys, warnings
warnings.simplefilter('ignore')
from swift.common.ring import RingBuilder
d = sys.argv[1]
for name, port in zip(('object', 'container', 'account'), sys.argv[2:5]):
    b = RingBuilder(8, 1, 1)
    b.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': int(port),
               'device': 'd1', 'weight': 100, 'meta': ''})
    b.rebalance()
    b.save('%s/%s.builder' % (d, name))
    b.get_ring().save('%s/%s.ring.gz' % (d, name))
EOF

launch() { # name cmd...
  local name=$1
  shift
  setsid "$@" </dev/null >"$DIR/log/$name.log" 2>&1 &
  echo $! >"$DIR/run/$name.pid"
}
# memcached's command line does not name DIR: a harmless -P pid file there makes stop's
# ownership check work for it too.
launch memcached memcached -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 64 -u "$RUNUSER" -P "$DIR/run/memcached.own"
launch account swift-account-server "$DIR/etc/account-server.conf" -v
launch container swift-container-server "$DIR/etc/container-server.conf" -v
launch object swift-object-server "$DIR/etc/object-server.conf" -v
launch proxy swift-proxy-server "$DIR/etc/proxy-server.conf" -v
launch updater swift-object-updater "$DIR/etc/object-server.conf" -v

# Ready when every server answers its healthcheck and a signed (SigV2) ListBuckets works.
if ! $PY - "$PORT" "$OBJ_PORT" "$CONT_PORT" "$ACCT_PORT" "$ACCESS_ACCOUNT:$ACCESS_USER" "$SECRET" "$DIR/run" <<'EOF'; then
import sys, time, os, urllib.request, urllib.error, hmac, hashlib, base64, email.utils
port, op, cp, ap, user, key, rundir = sys.argv[1:]
deadline = time.time() + 60
def alive():
    for f in os.listdir(rundir):
        if not f.endswith('.pid'): continue
        pid = int(open(os.path.join(rundir, f)).read())
        try: os.kill(pid, 0)
        except OSError: sys.exit('%s (pid %d) died; see log/%s.log' % (f[:-4], pid, f[:-4]))
def get(url, headers={}):
    try: return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2)
    except urllib.error.HTTPError as e: return e
    except Exception: return None
def wait(check, what):
    while True:
        r = check()
        if r: return r
        alive()
        if time.time() > deadline: sys.exit('timeout waiting for ' + what)
        time.sleep(0.2)
for p in (ap, cp, op, port):
    wait(lambda: (lambda r: r is not None and r.status == 200)(get('http://127.0.0.1:%s/healthcheck' % p)), 'port ' + p)
def list_buckets():
    date = email.utils.formatdate(usegmt=True)
    sig = base64.b64encode(hmac.new(key.encode(), ('GET\n\n\n%s\n/' % date).encode(), hashlib.sha1).digest()).decode()
    r = get('http://127.0.0.1:%s/' % port, {'Date': date, 'Authorization': 'AWS %s:%s' % (user, sig)})
    return r is not None and r.status == 200 and b'ListAllMyBucketsResult' in r.read()
wait(list_buckets, 'a signed ListBuckets (auth, memcached, account server)')
EOF
  log "startup failed; logs in $DIR/log"
  tail -n 20 "$DIR"/log/*.log >&2 || true
  stop
  exit 1
fi

cat >"$DIR/s3.env.tmp" <<EOF
S3_ENDPOINT=http://127.0.0.1:$PORT
S3_ACCESS_KEY=$ACCESS_ACCOUNT:$ACCESS_USER
S3_SECRET_KEY=$SECRET
S3_REGION=$REGION
EOF
mv "$DIR/s3.env.tmp" "$DIR/s3.env"
echo "http://127.0.0.1:$PORT"
