#!/usr/bin/env bash
# Makes the throw-away PKI the [sign] tests use, in the directory given (nothing here is ever committed):
#   ca.{key,pem}         test CA (EC P-256)
#   rsa.{key,pem}        RSA-2048 signer        ec.{key,pem}   EC P-256 signer      sm2.{key,pem}  SM2 signer
#   rsa-enc.key          rsa.key encrypted with the password in password.txt (AES-256)
#   ec.p12               ec.key + ec.pem as PKCS#12 with that password
#   other-ca.{key,pem}   a second CA; other-rsa.{key,pem} an RSA signer it issued (the "wrong cert")
#   expiring.pem         ec.key's public key in a certificate that expires in 5 days
set -euo pipefail
dir=${1:?usage: make_test_pki.sh DIR}
mkdir -p "$dir"
cd "$dir"
subj() { echo "/C=CN/O=portgate test/OU=not a real certificate/CN=$1"; }

issue() {  # issue NAME CN CA [DAYS] — certificate for NAME.key signed by CA
    local name=$1 cn=$2 ca=$3 days=${4:-3650} req=() vfy=()
    if [ "$name" = sm2 ]; then  # an SM2 request is self-signed with SM3 and the default signer ID
        req=(-sm3 -sigopt "distid:1234567812345678"); vfy=(-vfyopt "distid:1234567812345678")
    fi
    openssl req -new -key "$name.key" -subj "$(subj "$cn")" "${req[@]}" -out "$name.csr"
    openssl x509 -req -in "$name.csr" "${vfy[@]}" -CA "$ca.pem" -CAkey "$ca.key" -set_serial "0x$(openssl rand -hex 8)" \
        -days "$days" -sha256 -out "$name.pem" 2>/dev/null
    rm -f "$name.csr"
}

for ca in ca other-ca; do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$ca.key"
    openssl req -x509 -new -key "$ca.key" -subj "$(subj "portgate $ca")" -days 3650 -sha256 -out "$ca.pem" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
done

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key
openssl genpkey -algorithm SM2 -out sm2.key
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other-rsa.key 2>/dev/null
issue rsa "3301986Q5M rsa signer" ca
issue ec "3301986Q5M ec signer" ca
issue sm2 "3301986Q5M sm2 signer" ca
issue other-rsa "someone else" other-ca
cp ec.key expiring.key
issue expiring "3301986Q5M expiring" ca 5
rm expiring.key

printf 'test-only-password\n' > password.txt
openssl pkey -in rsa.key -aes256 -passout file:password.txt -out rsa-enc.key
openssl pkcs12 -export -inkey ec.key -in ec.pem -passout file:password.txt -out ec.p12
