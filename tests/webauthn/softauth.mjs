// A software WebAuthn authenticator and client for recording test vectors
// (record.mjs): it makes registrations and assertions as a browser hands
// them to a relying party (the PublicKeyCredential JSON of toJSON()), with
// ES256, RS256 (any modulus size) and EdDSA keys from Node's crypto module,
// attestation "none" or "packed" self attestation, and knobs a real
// authenticator never turns (UP cleared, BS without BE, counters going
// down, extension data, trailing bytes) so the C verifier's refusals can be
// tested on correctly signed data. Also a small CBOR encoder and decoder
// (definite lengths only, as CTAP2's canonical form).
import crypto from 'node:crypto';

export const b64u = (buf) => Buffer.from(buf).toString('base64url');
export const unb64u = (s) => Buffer.from(s, 'base64url');

// ---- CBOR (RFC 8949), enough for attestation objects and COSE keys ----

// A CBOR map whose entries keep the order given: callers list keys in
// CTAP2 canonical order (shorter encodings first, then bytewise).
export class CborMap {
  constructor(entries) { this.entries = entries; }
}

function head(major, n) {
  const m = major << 5;
  if (n < 24) return Buffer.from([m | n]);
  if (n < 0x100) return Buffer.from([m | 24, n]);
  if (n < 0x10000) { const b = Buffer.alloc(3); b[0] = m | 25; b.writeUInt16BE(n, 1); return b; }
  if (n < 0x100000000) { const b = Buffer.alloc(5); b[0] = m | 26; b.writeUInt32BE(n, 1); return b; }
  const b = Buffer.alloc(9); b[0] = m | 27; b.writeBigUInt64BE(BigInt(n), 1); return b;
}

export function cborEncode(v) {
  if (v instanceof CborMap) {
    return Buffer.concat([head(5, v.entries.length), ...v.entries.flatMap(([k, x]) => [cborEncode(k), cborEncode(x)])]);
  }
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return Buffer.concat([head(2, v.length), Buffer.from(v)]);
  if (typeof v === 'string') { const s = Buffer.from(v, 'utf8'); return Buffer.concat([head(3, s.length), s]); }
  if (Array.isArray(v)) return Buffer.concat([head(4, v.length), ...v.map(cborEncode)]);
  if (typeof v === 'boolean') return Buffer.from([v ? 0xf5 : 0xf4]);
  if (v === null) return Buffer.from([0xf6]);
  if (Number.isInteger(v)) return v >= 0 ? head(0, v) : head(1, -1 - v);
  throw new Error(`cborEncode: cannot encode ${typeof v}`);
}

// Decodes one item at buf[pos]; returns [value, next position]. Maps become
// Map objects (keys as decoded), byte strings Buffers.
export function cborDecode(buf, pos = 0) {
  const ib = buf[pos++];
  const major = ib >> 5, info = ib & 31;
  let n = info;
  if (info === 24) n = buf[pos++];
  else if (info === 25) { n = buf.readUInt16BE(pos); pos += 2; }
  else if (info === 26) { n = buf.readUInt32BE(pos); pos += 4; }
  else if (info === 27) { n = Number(buf.readBigUInt64BE(pos)); pos += 8; }
  else if (info > 27) throw new Error('cborDecode: indefinite or reserved length');
  switch (major) {
    case 0: return [n, pos];
    case 1: return [-1 - n, pos];
    case 2: return [buf.subarray(pos, pos + n), pos + n];
    case 3: return [buf.subarray(pos, pos + n).toString('utf8'), pos + n];
    case 4: { const a = []; for (let i = 0; i < n; i++) { let x; [x, pos] = cborDecode(buf, pos); a.push(x); } return [a, pos]; }
    case 5: { const m = new Map(); for (let i = 0; i < n; i++) { let k, x; [k, pos] = cborDecode(buf, pos); [x, pos] = cborDecode(buf, pos); m.set(k, x); } return [m, pos]; }
    case 7: return [info === 20 ? false : info === 21 ? true : null, pos];
    default: throw new Error(`cborDecode: major type ${major}`);
  }
}

// ---- authenticator data ----

export const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40, ED: 0x80 };

/** Reads the fields a relying party checks from authenticator data. */
export function parseAuthData(ad) {
  const out = { rpIdHash: ad.subarray(0, 32), flags: ad[32], signCount: ad.readUInt32BE(33) };
  if (out.flags & FLAG.AT) {
    out.aaguid = ad.subarray(37, 53);
    const idLen = ad.readUInt16BE(53);
    out.credentialId = ad.subarray(55, 55 + idLen);
  }
  return out;
}

const sha256 = (b) => crypto.createHash('sha256').update(b).digest();

// ---- keys ----

const ALGS = { ES256: -7, RS256: -257, EdDSA: -8 };

function makeKey(alg, rsaBits) {
  if (alg === 'ES256') return crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  if (alg === 'RS256') return crypto.generateKeyPairSync('rsa', { modulusLength: rsaBits || 2048, publicExponent: 65537 });
  if (alg === 'EdDSA') return crypto.generateKeyPairSync('ed25519');
  throw new Error(`unknown alg ${alg}`);
}

function coseKey(alg, publicKey) {
  const jwk = publicKey.export({ format: 'jwk' });
  if (alg === 'ES256') return new CborMap([[1, 2], [3, -7], [-1, 1], [-2, unb64u(jwk.x)], [-3, unb64u(jwk.y)]]);
  if (alg === 'RS256') return new CborMap([[1, 3], [3, -257], [-1, unb64u(jwk.n)], [-2, unb64u(jwk.e)]]);
  return new CborMap([[1, 1], [3, -8], [-1, 6], [-2, unb64u(jwk.x)]]);
}

function sign(alg, privateKey, data) {
  return crypto.sign(alg === 'EdDSA' ? null : 'sha256', data, privateKey);
}

// ---- the authenticator and its client ----

export class SoftAuthenticator {
  /** alg: 'ES256' | 'RS256' | 'EdDSA'; rsaBits for RS256 (default 2048). */
  constructor({ alg = 'ES256', rsaBits, aaguid, backupEligible = false, backupState = false } = {}) {
    this.alg = alg;
    this.keys = makeKey(alg, rsaBits);
    this.credentialId = crypto.randomBytes(32);
    this.aaguid = aaguid || Buffer.from('6f7467617465736f6674617574680001', 'hex'); // "otpgatesoftauth", 1
    this.be = backupEligible;
    this.bs = backupState;
    this.counter = 0;
  }

  get coseAlg() { return ALGS[this.alg]; }

  spki() { return this.keys.publicKey.export({ format: 'der', type: 'spki' }); }

  authData(rpId, { up = true, uv = true, be = this.be, bs = this.bs, counter, attested = false, extensions = null, coseOverride = null }) {
    let flags = (up ? FLAG.UP : 0) | (uv ? FLAG.UV : 0) | (be ? FLAG.BE : 0) | (bs ? FLAG.BS : 0);
    const parts = [sha256(Buffer.from(rpId)), null, Buffer.alloc(4)];
    parts[2].writeUInt32BE(counter >>> 0);
    if (attested) {
      flags |= FLAG.AT;
      const idLen = Buffer.alloc(2);
      idLen.writeUInt16BE(this.credentialId.length);
      parts.push(this.aaguid, idLen, this.credentialId, cborEncode(coseOverride || coseKey(this.alg, this.keys.publicKey)));
    }
    if (extensions) {
      flags |= FLAG.ED;
      parts.push(cborEncode(extensions));
    }
    parts[1] = Buffer.from([flags]);
    return Buffer.concat(parts);
  }

  /**
   * navigator.credentials.create() as a browser would answer it. opts:
   * rpId, origin, challenge (Buffer), fmt ('none' | 'packed'), counter,
   * and the knobs: up, uv, be, bs, extensions, trailing (bytes appended to
   * authData), attAlg (alg claimed in a self attestation), badAttSig,
   * coseOverride (a CborMap used as the credential public key).
   */
  register(opts) {
    const { fmt = 'none', counter = 0 } = opts;
    this.counter = counter;
    const { clientData, authData } = this.ceremony('webauthn.create', { ...opts, attested: true });
    let attStmt = new CborMap([]);
    if (fmt === 'packed') {
      let sig = this.sign(authData, clientData);
      if (opts.badAttSig) sig[sig.length - 1] ^= 1;
      attStmt = new CborMap([['alg', opts.attAlg ?? this.coseAlg], ['sig', sig]]);
    }
    const attestationObject = cborEncode(new CborMap([['fmt', fmt], ['attStmt', attStmt], ['authData', authData]]));
    return this.credentialJSON({
      clientDataJSON: b64u(clientData),
      attestationObject: b64u(attestationObject),
      transports: ['usb'],
      authenticatorData: b64u(authData),
      publicKey: b64u(this.spki()),
      publicKeyAlgorithm: this.coseAlg,
    });
  }

  /**
   * navigator.credentials.get(): opts rpId, origin, challenge, userHandle
   * (Buffer or null), counter (default: one more than the last), up, uv,
   * be, bs, extensions, trailing.
   */
  assert(opts) {
    this.counter = opts.counter ?? this.counter + 1;
    const { clientData, authData } = this.ceremony('webauthn.get', opts);
    return this.credentialJSON({
      clientDataJSON: b64u(clientData),
      authenticatorData: b64u(authData),
      signature: b64u(this.sign(authData, clientData)),
      userHandle: opts.userHandle ? b64u(opts.userHandle) : null,
    });
  }

  /** clientDataJSON as a browser writes it, and the authenticator data
   * (with opts.trailing appended) at the current counter. */
  ceremony(type, opts) {
    const { rpId, origin, challenge } = opts;
    const clientData = Buffer.from(JSON.stringify({ type, challenge: b64u(challenge), origin, crossOrigin: false }));
    let authData = this.authData(rpId, { ...opts, counter: this.counter });
    if (opts.trailing) authData = Buffer.concat([authData, opts.trailing]);
    return { clientData, authData };
  }

  /** The signature over authenticatorData || SHA-256(clientDataJSON). */
  sign(authData, clientData) {
    return Buffer.from(sign(this.alg, this.keys.privateKey, Buffer.concat([authData, sha256(clientData)])));
  }

  credentialJSON(response) {
    const id = b64u(this.credentialId);
    return { id, rawId: id, type: 'public-key', authenticatorAttachment: 'cross-platform', clientExtensionResults: {}, response };
  }
}
