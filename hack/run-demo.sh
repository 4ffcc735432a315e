#!/usr/bin/env bash
# run-demo.sh: serves the demo federation (testdata/demo) with
# Corefile.example on loopback and prints how to query it.
set -euo pipefail
bin=${1:-bin/meridian}
cd "$(dirname "$0")/.."
name=nginx.default.myfederation.svc
cat <<MSG
Meridian is serving the demo federation (testdata/demo) for example.com on 127.0.0.1:1053 and [::1]:1053.
Try, from another terminal:
  dig @127.0.0.1 -p 1053 $name.example.com +subnet=27.0.0.0/24          # a client in Taipei: asia-east1
  dig @127.0.0.1 -p 1053 $name.example.com +subnet=24.0.0.0/24          # a client in Chicago: us-central1
  dig @127.0.0.1 -p 1053 $name.us-central1-b.us-central1.example.com    # a zone name
Metrics: http://127.0.0.1:9153/metrics   Ready: http://127.0.0.1:8181/ready   Stop: Ctrl-C
MSG
exec "$bin" -conf Corefile.example
