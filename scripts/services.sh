#!/usr/bin/env bash
# Makes sure the system services and tools the tests use are present and running.
# SeaweedFS (S3) and OpenSSL's TSA are started and stopped by the tests themselves.
set -euo pipefail
need_apt=()
command -v openssl >/dev/null || need_apt+=(openssl)
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql)
command -v chromium >/dev/null || need_apt+=(chromium)
# The page audit installs axe-core with npm (tests/web/axe/package-lock.json).
command -v npm >/dev/null || need_apt+=(npm)
# The custody-report tests read PDFs with poppler and run the printed re-check commands.
command -v pdftotext >/dev/null || need_apt+=(poppler-utils)
command -v jq >/dev/null || need_apt+=(jq)
command -v curl >/dev/null || need_apt+=(curl)
# WeasyPrint renders the custody report with Pango (text layout) and fontconfig's DejaVu fonts.
python3 -c 'import ctypes.util as u, sys; sys.exit(not u.find_library("pangoft2-1.0"))' ||
  need_apt+=(libpango-1.0-0 libpangoft2-1.0-0)
[ -n "$(fc-list "DejaVu Sans" 2>/dev/null)" ] || need_apt+=(fonts-dejavu-core)
# The PKCS#11 tests keep the log key in a SoftHSM2 token.
command -v softhsm2-util >/dev/null || need_apt+=(softhsm2)
# `pdfsig` checks report signatures against an NSS database made with certutil.
command -v certutil >/dev/null || need_apt+=(libnss3-tools)
# bench/http.py (and its quick run in the suite) loads the server with wrk.
command -v wrk >/dev/null || need_apt+=(wrk)
# The collector tests make E01 images with libewf's ewfacquire and cross-check with ewfverify.
command -v ewfacquire >/dev/null || need_apt+=(ewf-tools)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
  else
    echo "missing system packages: ${need_apt[*]} (install them with apt-get)" >&2
    exit 1
  fi
fi
pg_host="${LOCARD_PG_HOST:-127.0.0.1}"
if ! pg_isready -q -h "$pg_host" -p 5432; then
  echo "starting PostgreSQL" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h "$pg_host" -p 5432 && break; sleep 1; done
fi
pg_isready -h "$pg_host" -p 5432
