// openid-client v6 and jose v6 use the Web Crypto API as a global
// (crypto.subtle, CryptoKey). Node 20 has both; Node 18 (Debian bookworm's
// nodejs) keeps them on node:crypto's webcrypto only. Imported first by the
// harness so the libraries find them either way.
import { webcrypto } from 'node:crypto';

if (!globalThis.crypto || !globalThis.crypto.subtle) {
  Object.defineProperty(globalThis, 'crypto', { value: webcrypto, configurable: true, writable: true });
}
if (typeof globalThis.CryptoKey === 'undefined') {
  const key = await webcrypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  globalThis.CryptoKey = webcrypto.CryptoKey || key.constructor;
}
