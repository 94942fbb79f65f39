// OpenSSL's libcrypto (Debian's libssl-dev), for SHA-256 only: its EVP digest interface, which
// picks the CPU's SHA extensions (SHA-NI) or AVX2 code at run time. The binary loads libcrypto
// already (libcurl, under Foundation's networking, links it), so this adds no dependency at run time.
#include <openssl/evp.h>
