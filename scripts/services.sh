#!/usr/bin/env bash
# Start each local service the tests use when it is not answering; wait until it answers.
set -u

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  local name=$1 port=$2; shift 2
  if up "$port"; then return 0; fi
  echo "starting $name (port $port)"
  "$@" >/dev/null 2>&1 || echo "warning: could not start $name: $*" >&2
  for _ in $(seq 1 60); do up "$port" && return 0; sleep 0.5; done
  echo "warning: $name is still not answering on port $port" >&2
}

start postgresql 5432 bash -c 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'
start redis 6379 redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
  --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
start nats 4222 start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
  -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
start mariadb 3306 start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
exit 0
