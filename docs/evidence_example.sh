#!/usr/bin/env bash
# The worked example of EVIDENCE.md, run for real: a web server on this machine plays the
# rented host, goes down, and its owner's evidence is signed, proved, bundled, checked, and
# then tampered with. Usage: bash docs/evidence_example.sh [FOLDER] (default: a temporary one).
# tests/test_evidence_doc.py runs it and checks EVIDENCE.md shows these commands.
set -euo pipefail
folder="${1:-$(mktemp -d)}"
mkdir -p "$folder" && cd "$folder"
port="${EXAMPLE_PORT:-18080}"

python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 1

cat > slawitness.yml <<EOF
vantage: office
store: evidence.db
diagnostics: {enabled: false}
targets:
  - name: vps1
    host: 127.0.0.1
    provider: {name: ExampleHost, account: C-1234, contact: support@example.com}
    probes:
      - {name: web, kind: http, url: "http://127.0.0.1:$port/", interval: 60s, timeout: 5s}
    sla:
      uptime: 99.9
      downtime: {probes: any, min_duration: 0s}
      credits: [{below: 99.9, credit: 10}]
      monthly_fee: 40
      currency: USD
EOF

run() { echo "\$ $*"; "$@" || echo "(exit $?)"; echo; }

run slawitness init --key-only
run slawitness probe
run slawitness probe
run slawitness checkpoint --out monday.checkpoint
run cat monday.checkpoint
kill $server && wait $server 2>/dev/null || true
run slawitness probe
run slawitness checkpoint
run slawitness prove --seq 7 --out seq-7.proof.json
run slawitness check-proof seq-7.proof.json --key slawitness.key.pub
run slawitness verify --checkpoint monday.checkpoint
today="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
hour_ago="$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)"
run slawitness bundle --target vps1 --from "$hour_ago" --to "$today" --out bundle.zip --lang en
mkdir -p unpacked && (cd unpacked && python3 -c "import zipfile; zipfile.ZipFile('../bundle.zip').extractall()")
(cd unpacked && run python3 verify.py)

# Someone with the machine cuts every record after Monday's checkpoint: the outage is gone.
python3 - <<'EOF'
import apsw
conn = apsw.Connection("evidence.db")
conn.execute("DROP TRIGGER records_no_delete")
conn.execute("DELETE FROM records WHERE seq > 6")
EOF
run slawitness verify
run slawitness verify --checkpoint monday.checkpoint
run slawitness verify --checkpoint unpacked/proofs/office/checkpoint.txt
run slawitness check-proof seq-7.proof.json --key slawitness.key.pub
