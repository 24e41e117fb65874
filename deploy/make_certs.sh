#!/usr/bin/env bash
# Makes a certificate authority and per-role certificates for a test or small cluster (README
# "Security"), with openssl. Each certificate names its roles as URI SANs
# urn:paramserver:role:ROLE and the hosts it may serve on as DNS/IP SANs (servers and
# coordinators are checked against the host a client dialled).
#
# Usage: deploy/make_certs.sh DIR [NAME=ROLE[+ROLE...]]... [--hosts=H1,H2,...] [--days=N]
#                             [--expired]
#   DIR        where the files go: ca.pem, ca.key (kept private: it signs new members), and
#              NAME.pem / NAME.key per certificate. An existing DIR/ca.pem and ca.key are reused,
#              so running again adds certificates signed by the same CA.
#   NAME=ROLES a certificate NAME with roles from coordinator, server, worker, admin joined by
#              '+'. Default: coordinator=coordinator server=server worker=worker admin=admin
#              chief=worker+admin (the worker that creates the job's tables).
#   --hosts    DNS names and IP addresses of the machines the certificates are for (default
#              localhost,127.0.0.1,$(hostname)); one certificate may serve every host listed.
#   --days     validity (default 365).
#   --expired  certificates that expired yesterday (for tests of refusal).
set -euo pipefail

# The comment above, without its "# ", under the name this script was run as (the Debian package
# installs it as paramserver-make-certs). --help: on stdout, status 0; a usage error: stderr, 2.
usage() {
  awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" |
    sed "s#deploy/make_certs.sh#${0##*/}#"
  exit "${1:-2}"
}

dir=""
hosts="localhost,127.0.0.1,$(hostname)"
days=365
expired=false
specs=()
for arg in "$@"; do
  case "${arg}" in
    --hosts=*) hosts="${arg#--hosts=}" ;;
    --days=*) days="${arg#--days=}" ;;
    --expired) expired=true ;;
    -h|--help) usage 0 ;;
    -*) echo "make_certs.sh: unknown option ${arg}" >&2; usage >&2 ;;
    *=*) specs+=("${arg}") ;;
    *) [[ -z "${dir}" ]] || { echo "make_certs.sh: one DIR only" >&2; usage >&2; }; dir="${arg}" ;;
  esac
done
[[ -n "${dir}" ]] || usage >&2
[[ "${days}" =~ ^[1-9][0-9]*$ ]] || { echo "make_certs.sh: --days must be a positive number" >&2; exit 2; }
command -v openssl >/dev/null || { echo "make_certs.sh: openssl is not installed (apt-get install openssl)" >&2; exit 1; }
if [[ ${#specs[@]} -eq 0 ]]; then
  specs=(coordinator=coordinator server=server worker=worker admin=admin chief=worker+admin)
fi

mkdir -p "${dir}"
umask 077
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

if [[ ! -f "${dir}/ca.pem" || ! -f "${dir}/ca.key" ]]; then
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "${dir}/ca.key" -out "${dir}/ca.pem" -days 3650 -sha256 \
    -subj "/O=paramserver/CN=paramserver CA $(date -u +%Y%m%d%H%M%S)" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  echo "made CA ${dir}/ca.pem"
fi

touch "${work}/index.txt"
openssl rand -hex 16 > "${work}/serial"
cat > "${work}/ca.cnf" <<EOF
[ ca ]
default_ca = psca
[ psca ]
database = ${work}/index.txt
new_certs_dir = ${work}
serial = ${work}/serial
default_md = sha256
policy = any_name
unique_subject = no
email_in_dn = no
[ any_name ]
organizationName = optional
commonName = supplied
EOF

if [[ "${expired}" == true ]]; then
  start="$(date -u -d '-3 days' +%Y%m%d%H%M%SZ)"
  end="$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)"
else
  # An hour back, for clocks a little behind this one.
  start="$(date -u -d '-1 hour' +%Y%m%d%H%M%SZ)"
  end="$(date -u -d "+${days} days" +%Y%m%d%H%M%SZ)"
fi

for spec in "${specs[@]}"; do
  name="${spec%%=*}"
  roles="${spec#*=}"
  [[ "${name}" =~ ^[A-Za-z0-9._-]+$ ]] || { echo "make_certs.sh: bad name '${name}'" >&2; exit 2; }
  {
    echo "[ leaf ]"
    echo "basicConstraints = critical,CA:FALSE"
    echo "keyUsage = critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage = serverAuth,clientAuth"
    echo "subjectAltName = @sans"
    echo "[ sans ]"
    i=0
    IFS=+ read -ra role_list <<< "${roles}"
    for role in "${role_list[@]}"; do
      case "${role}" in
        coordinator|server|worker|admin) ;;
        *) echo "make_certs.sh: unknown role '${role}' (coordinator, server, worker, admin)" >&2; exit 2 ;;
      esac
      i=$((i + 1)); echo "URI.${i} = urn:paramserver:role:${role}"
    done
    d=0; p=0
    IFS=, read -ra host_list <<< "${hosts}"
    for host in "${host_list[@]}"; do
      [[ -n "${host}" ]] || continue
      if [[ "${host}" =~ ^[0-9.]+$ || "${host}" == *:* ]]; then
        p=$((p + 1)); echo "IP.${p} = ${host}"
      else
        d=$((d + 1)); echo "DNS.${d} = ${host}"
      fi
    done
  } > "${work}/${name}.ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "${dir}/${name}.key" -out "${work}/${name}.csr" \
    -subj "/O=paramserver/CN=${name}" 2>/dev/null
  openssl ca -batch -notext -config "${work}/ca.cnf" -cert "${dir}/ca.pem" \
    -keyfile "${dir}/ca.key" -in "${work}/${name}.csr" -out "${dir}/${name}.pem" \
    -startdate "${start}" -enddate "${end}" \
    -extfile "${work}/${name}.ext" -extensions leaf 2>/dev/null
  echo "made ${dir}/${name}.pem (roles ${roles//+/,}; hosts ${hosts}; until ${end})"
done
