#!/usr/bin/env bash
# Makes the throw-away TLS PKI the [adapters] HTTPS tests use, in the directory given (never committed):
#   ca.{key,pem}            test CA (EC P-256)          other-ca.{key,pem}  a CA nobody trusts here
#   server.{key,pem}        server certificate, subjectAltName IP:127.0.0.1 + DNS:localhost (RSA-2048)
#   wronghost.{key,pem}     server certificate for DNS:elsewhere.invalid only (host name check)
#   client.{key,pem}        client certificate for mTLS (EC P-256)
#   client-enc.key          client.key encrypted (AES-256) with the password in password.txt
set -euo pipefail
dir=${1:?usage: make_tls_pki.sh DIR}
mkdir -p "$dir"
cd "$dir"
subj() { echo "/C=CN/O=portgate test/OU=not a real certificate/CN=$1"; }

issue() {  # issue NAME CN CA EXTENSIONS
    local name=$1 cn=$2 ca=$3 ext=$4
    openssl req -new -key "$name.key" -subj "$(subj "$cn")" -out "$name.csr"
    printf '%b\n' "$ext" > "$name.ext"
    openssl x509 -req -in "$name.csr" -CA "$ca.pem" -CAkey "$ca.key" -set_serial "0x$(openssl rand -hex 8)" \
        -days 30 -sha256 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
}

for ca in ca other-ca; do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$ca.key"
    openssl req -x509 -new -key "$ca.key" -subj "$(subj "portgate tls $ca")" -days 30 -sha256 -out "$ca.pem" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
done

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out server.key 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out wronghost.key
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out client.key
server_ext='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth'
issue server "127.0.0.1" ca "$server_ext\nsubjectAltName=IP:127.0.0.1,DNS:localhost"
issue wronghost "elsewhere.invalid" ca "$server_ext\nsubjectAltName=DNS:elsewhere.invalid"
issue client "3301986Q5M portgate client" ca 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth'

printf 'test-only-password\n' > password.txt
openssl pkey -in client.key -aes256 -passout file:password.txt -out client-enc.key
