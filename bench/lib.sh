# Shared by bench/compare, bench/scale and bench/encryption: free ports, waiting for a server,
# starting cnx-storage on a fresh data dir, stopping the server (also when the script exits).
# Expects OUT and DISK; sets SERVER_PID, ENDPOINT, AK, SK, REGION.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
  local port="$1" pid="$2"
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "[compare] server exited at start" >&2; return 1; }
    sleep 0.1
  done
  echo "[compare] server did not listen on $port" >&2
  return 1
}

SERVER_PID="" ENDPOINT="" AK="" SK="" REGION=""
AK_CNX="CNXBENCHACCESSKEY001" SK_CNX="cnx-bench-secret-key-000000000000000000"

start_cnx() {
  local durability="$1" dir="$DISK/$2" port
  port="$(free_port)"
  mkdir -p "$dir"
  printf 'durability = "%s"\n[lifecycle]\ninterval_secs = 86400\n' "$durability" >"$dir/config.toml"
  CNX_ROOT_ACCESS_KEY="$AK_CNX" CNX_ROOT_SECRET_KEY="$SK_CNX" RUST_LOG=warn \
    "${CNX_SERVER_BIN:-$CNX_BIN}" serve --listen "127.0.0.1:$port" --data-dir "$dir/data" --config "$dir/config.toml" \
    >"$OUT/$2.log" 2>&1 &
  SERVER_PID=$!
  wait_port "$port" "$SERVER_PID"
  ENDPOINT="http://127.0.0.1:$port" AK="$AK_CNX" SK="$SK_CNX" REGION="in-mum"
}

# Stops the server started last, if any.
stop_server() {
  [[ -n "$SERVER_PID" ]] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
trap stop_server EXIT
