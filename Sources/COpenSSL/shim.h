#ifndef ASSET_RENAMER_COPENSSL_SHIM_H
#define ASSET_RENAMER_COPENSSL_SHIM_H

// The parts of libcrypto (OpenSSL 3) that asset-renamer uses: one-shot digests (EVP_Digest),
// HMAC through the EVP_MAC interface, CRYPTO_memcmp and RAND_bytes. Nothing deprecated.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <openssl/hmac.h>

#endif
