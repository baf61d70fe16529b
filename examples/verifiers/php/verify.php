<?php
// Verify idgate's X-Idgate-Assertion in a legacy PHP app with nothing but the JWKS.
// Requires PHP >= 7.4 with the openssl extension; no Composer package needed.
//
//   require 'verify.php';
//   $claims = idgate_verify($_SERVER['HTTP_X_IDGATE_ASSERTION'] ?? '',
//       'https://shop.example.com/.idgate/jwks.json', 'https://shop.example.com', 'https://shop.example.com');
//   if ($claims === null) { http_response_code(403); exit; }
//   echo htmlspecialchars($claims['sub']);
//
// ES256 only (idgate's default). EdDSA needs ext-sodium: sodium_crypto_sign_verify_detached.

function idgate_b64url_decode(string $s): string {
    return base64_decode(strtr($s, '-_', '+/') . str_repeat('=', (4 - strlen($s) % 4) % 4));
}

// The JWKS, cached for 5 minutes in the temp dir. $refresh (an unknown kid: keys rotate) fetches
// it again unless the cached copy is under 10 seconds old, so forged kids cannot hammer idgate.
function idgate_jwks(string $url, bool $refresh = false): array {
    $cache = sys_get_temp_dir() . '/idgate-jwks-' . md5($url) . '.json';
    $age = is_file($cache) ? time() - filemtime($cache) : PHP_INT_MAX;
    if ($age < 10 || ($age < 300 && !$refresh)) {
        return json_decode(file_get_contents($cache), true) ?: [];
    }
    $ctx = stream_context_create(['http' => ['timeout' => 5]]);
    $body = @file_get_contents($url, false, $ctx);
    if ($body === false) return [];
    file_put_contents($cache, $body, LOCK_EX);
    return json_decode($body, true) ?: [];
}

function idgate_find_key(array $jwks, ?string $kid): ?array {
    foreach ($jwks['keys'] ?? [] as $k) {
        if (($k['kid'] ?? '') === $kid && ($k['kty'] ?? '') === 'EC') return $k;
    }
    return null;
}

// An EC P-256 JWK as a PEM public key (SubjectPublicKeyInfo).
function idgate_ec_pem(array $jwk): string {
    $der = hex2bin('3059301306072a8648ce3d020106082a8648ce3d030107034200') . "\x04"
        . idgate_b64url_decode($jwk['x']) . idgate_b64url_decode($jwk['y']);
    return "-----BEGIN PUBLIC KEY-----\n" . chunk_split(base64_encode($der), 64, "\n") . "-----END PUBLIC KEY-----\n";
}

// JOSE ES256 signatures are r||s (64 bytes); openssl wants DER.
function idgate_es256_der(string $sig): string {
    $int = function (string $b): string {
        $b = ltrim($b, "\x00");
        if ($b === '' || ord($b[0]) > 0x7f) $b = "\x00" . $b;
        return "\x02" . chr(strlen($b)) . $b;
    };
    $seq = $int(substr($sig, 0, 32)) . $int(substr($sig, 32, 32));
    return "\x30" . chr(strlen($seq)) . $seq;
}

function idgate_verify(string $jwt, string $jwksUrl, string $iss, string $aud): ?array {
    $parts = explode('.', $jwt);
    if (count($parts) !== 3) return null;
    $header = json_decode(idgate_b64url_decode($parts[0]), true);
    $claims = json_decode(idgate_b64url_decode($parts[1]), true);
    if (!is_array($header) || !is_array($claims) || ($header['alg'] ?? '') !== 'ES256') return null;
    $kid = is_string($header['kid'] ?? null) ? $header['kid'] : null;
    $key = idgate_find_key(idgate_jwks($jwksUrl), $kid) ?? idgate_find_key(idgate_jwks($jwksUrl, true), $kid);
    if ($key === null) return null;
    $ok = openssl_verify($parts[0] . '.' . $parts[1], idgate_es256_der(idgate_b64url_decode($parts[2])),
        idgate_ec_pem($key), OPENSSL_ALGO_SHA256);
    if ($ok !== 1) return null;
    $now = time();
    if (($claims['iss'] ?? '') !== $iss || ($claims['aud'] ?? '') !== $aud) return null;
    if (($claims['exp'] ?? 0) < $now - 30 || ($claims['iat'] ?? PHP_INT_MAX) > $now + 30) return null;
    return $claims;
}
