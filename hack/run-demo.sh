#!/usr/bin/env bash
# run-demo.sh: serves the demo federation (testdata/demo) with
# Corefile.example on loopback and prints how to query it.
set -euo pipefail
bin=${1:-bin/meridian}
cd "$(dirname "$0")/.."
name=nginx.default.myfederation.svc
cat <<MSG
Meridian is serving the demo federation (testdata/demo) for example.com on 127.0.0.1:1053 and [::1]:1053,
and the local-first resolver of us-central1-a on 127.0.0.1:1054 and [::1]:1054.
Try, from another terminal:
  dig @127.0.0.1 -p 1053 $name.example.com +subnet=27.0.0.0/24          # a client in Taipei: asia-east1
  dig @127.0.0.1 -p 1053 $name.example.com +subnet=24.0.0.0/24          # a client in Chicago: us-central1
  dig @127.0.0.1 -p 1053 $name.us-central1-b.us-central1.example.com    # a zone name
The local-first resolver of cluster us-central1-a (what its pods would get) is on port 1054:
  dig @127.0.0.1 -p 1054 $name.example.com                              # the local cluster IP, 10.96.0.10
  dig @127.0.0.1 -p 1054 $name.cluster.local                            # the kube-dns form
Metrics: http://127.0.0.1:9153/metrics   Ready: http://127.0.0.1:8181/ready   Stop: Ctrl-C
MSG
exec "$bin" -conf Corefile.example
