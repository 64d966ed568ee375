// Records the WebAuthn test vectors of tests/unit/core/test_webauthn.c:
//
//   node tests/webauthn/record.mjs        (playwright-core from tests/browser: npm ci there)
//
// 1. Debian's chromium with the DevTools virtual authenticator
//    (WebAuthn.addVirtualAuthenticator) on a page this script serves at
//    http://localhost:PORT (a secure context; rp id "localhost"):
//    ctap2/internal passkeys with ES256, RS256 and EdDSA, attestation
//    "none" and "direct" (packed with an x5c certificate), a synced passkey
//    (BE and BS set), and a u2f security key (fido-u2f attestation, no UV).
//    Each registration is followed by sign-ins. Written to
//    vectors/chromium.json.
// 2. The software authenticator of softauth.mjs: packed self attestation
//    with each algorithm, an RSA-3072 key, counters that stay at zero, and
//    correctly signed data that a relying party must still refuse (UP
//    cleared, BS without BE, BE changed, counters going down, trailing
//    bytes, a self attestation naming another algorithm, an unsupported
//    key). Written to vectors/software.json.
// 3. Seeds for tests/fuzz/fuzz_webauthn.c from both, in
//    tests/fuzz/corpus/webauthn/seed-*.
//
// Every case carries what the recording itself says (the browser's own
// publicKey, publicKeyAlgorithm and transports, the authenticator data's
// flags and counter read here in JavaScript) as "expect", and the result
// the verifier must give ("ok" or a webauthn_result_code name).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { b64u, cborDecode, CborMap, parseAuthData, SoftAuthenticator, unb64u, FLAG } from './softauth.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SOURCE = path.resolve(HERE, '../..');
const require = createRequire(path.join(SOURCE, 'tests/browser/package.json'));
const { chromium } = require('playwright-core');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const RP_ID = 'localhost';

/** What the recording says about a registration, read independently of
 * the C code: flags and counter from authenticatorData, the rest from the
 * browser's (or software authenticator's) own fields. */
function registrationFacts(cred) {
  const ao = unb64u(cred.response.attestationObject);
  const [obj] = cborDecode(ao);
  const ad = parseAuthData(obj.get('authData'));
  return {
    credential_id: b64u(ad.credentialId),
    alg: cred.response.publicKeyAlgorithm,
    public_key: cred.response.publicKey,
    fmt: obj.get('fmt'),
    sign_count: ad.signCount,
    aaguid: ad.aaguid.toString('hex'),
    uv: !!(ad.flags & FLAG.UV),
    be: !!(ad.flags & FLAG.BE),
    bs: !!(ad.flags & FLAG.BS),
    transports: cred.response.transports || [],
  };
}

function assertionFacts(cred) {
  const ad = parseAuthData(unb64u(cred.response.authenticatorData));
  return { sign_count: ad.signCount, uv: !!(ad.flags & FLAG.UV), be: !!(ad.flags & FLAG.BE), bs: !!(ad.flags & FLAG.BS) };
}

const challenge = () => crypto.randomBytes(32);

// ---- 1. chromium ----

async function recordChromium() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="en"><title>otpgate WebAuthn recorder</title><p>recording</p></html>');
  });
  await new Promise((ok) => server.listen(0, 'localhost', ok));
  const origin = `http://localhost:${server.address().port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  const version = browser.version();
  const page = await browser.newPage();
  await page.goto(origin + '/');
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });

  const create = (o) => page.evaluate(async (o) => {
    const u8 = (a) => new Uint8Array(a);
    const c = await navigator.credentials.create({ publicKey: {
      rp: { id: o.rpId, name: 'otpgate recorder' },
      user: { id: u8(o.userHandle), name: 'alice', displayName: 'Alice' },
      challenge: u8(o.challenge),
      pubKeyCredParams: [{ type: 'public-key', alg: o.alg }],
      authenticatorSelection: { residentKey: o.residentKey, userVerification: o.uv },
      attestation: o.attestation, timeout: 60000 } });
    return c.toJSON();
  }, o);
  const get = (o) => page.evaluate(async (o) => {
    const c = await navigator.credentials.get({ publicKey: {
      rpId: o.rpId, challenge: new Uint8Array(o.challenge), userVerification: o.uv, timeout: 60000,
      allowCredentials: o.allow ? [{ type: 'public-key', id: Uint8Array.from(atob(o.allow.replace(/-/g, '+').replace(/_/g, '/')), (ch) => ch.charCodeAt(0)) }] : [] } });
    return c.toJSON();
  }, o);

  const specs = [];
  for (const [alg, label] of [[-7, 'es256'], [-257, 'rs256'], [-8, 'eddsa']]) {
    specs.push({ name: `chromium-ctap2-${label}-none`, alg, attestation: 'none', signIns: 2 });
    specs.push({ name: `chromium-ctap2-${label}-packed`, alg, attestation: 'direct', signIns: 1 });
  }
  specs.push({ name: 'chromium-ctap2-es256-synced', alg: -7, attestation: 'none', signIns: 1,
    auth: { defaultBackupEligibility: true, defaultBackupState: true } });
  specs.push({ name: 'chromium-u2f-es256-fido-u2f', alg: -7, attestation: 'direct', signIns: 2,
    residentKey: 'discouraged', uv: 'discouraged',
    auth: { protocol: 'u2f', transport: 'usb', hasResidentKey: false, hasUserVerification: false, isUserVerified: false } });

  const cases = [];
  for (const s of specs) {
    const options = { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true, ...(s.auth || {}) };
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options });
    const userHandle = crypto.randomBytes(32);
    const uv = s.uv || 'preferred';
    const regChallenge = challenge();
    const cred = await create({ rpId: RP_ID, userHandle: [...userHandle], challenge: [...regChallenge], alg: s.alg,
      residentKey: s.residentKey || 'preferred', uv, attestation: s.attestation });
    const c = {
      name: s.name,
      source: `chromium ${version} DevTools virtual authenticator ${JSON.stringify(options)}`,
      rp_id: RP_ID, origin, user_handle: b64u(userHandle),
      registration: { challenge: b64u(regChallenge), user_verification: uv, result: 'ok', expect: registrationFacts(cred), credential: cred },
      assertions: [],
    };
    for (let i = 0; i < s.signIns; i++) {
      const ch = challenge();
      // A discoverable passkey signs in with an empty allow list; a u2f key needs its id.
      const a = await get({ rpId: RP_ID, challenge: [...ch], uv, allow: s.auth?.protocol === 'u2f' ? cred.rawId : null });
      c.assertions.push({ challenge: b64u(ch), user_verification: uv, result: 'ok', expect: assertionFacts(a), credential: a });
    }
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
    cases.push(c);
    console.log(`${s.name}: fmt ${c.registration.expect.fmt}, alg ${c.registration.expect.alg}, ${c.assertions.length} sign-ins`);
  }
  await browser.close();
  server.close();
  return { recorded_with: `chromium ${version}`, cases };
}

// ---- 2. the software authenticator ----

function recordSoftware() {
  const origin = 'http://localhost:8080';
  const rp = { rpId: RP_ID, origin };
  const cases = [];

  /** One case: a registration (regOpts) and then sign-ins, each with its
   * knobs and the result the verifier must give. */
  function add(name, authOpts, regOpts, regResult, signIns = []) {
    const auth = new SoftAuthenticator(authOpts);
    const userHandle = crypto.randomBytes(32);
    const regChallenge = challenge();
    const uv = regOpts.user_verification || 'preferred';
    const cred = auth.register({ ...rp, challenge: regChallenge, ...regOpts });
    const c = {
      name, source: 'tests/webauthn/softauth.mjs', rp_id: RP_ID, origin, user_handle: b64u(userHandle),
      registration: { challenge: b64u(regChallenge), user_verification: uv, result: regResult, expect: registrationFacts(cred), credential: cred },
      assertions: [],
    };
    for (const s of signIns) {
      const ch = challenge();
      const a = auth.assert({ ...rp, challenge: ch, userHandle, ...s.opts });
      c.assertions.push({ challenge: b64u(ch), user_verification: s.uv || 'preferred', result: s.result, expect: assertionFacts(a), credential: a });
    }
    cases.push(c);
  }

  const ok = (opts = {}) => ({ result: 'ok', opts });
  for (const alg of ['ES256', 'RS256', 'EdDSA']) {
    add(`soft-${alg.toLowerCase()}-packed-self`, { alg }, { fmt: 'packed' }, 'ok', [ok(), ok()]);
  }
  add('soft-rs3072-none', { alg: 'RS256', rsaBits: 3072 }, { fmt: 'none' }, 'ok', [ok()]);
  // A counter that stays at zero is an authenticator without one: fine.
  add('soft-es256-zero-counter', { alg: 'ES256' }, { fmt: 'none', counter: 0 }, 'ok',
    [ok({ counter: 0 }), ok({ counter: 0 })]);
  add('soft-es256-counter', { alg: 'ES256' }, { fmt: 'none', counter: 7 }, 'ok', [
    { result: 'sign_count', opts: { counter: 7 } }, // not more than at registration
    ok({ counter: 9 }),
    { result: 'sign_count', opts: { counter: 9 } }, // replayed count
    { result: 'sign_count', opts: { counter: 3 } }, // going down
    { result: 'sign_count', opts: { counter: 0 } }, // a counter that was counting cannot stop
    ok({ counter: 10 }),
  ]);
  add('soft-eddsa-flags', { alg: 'EdDSA' }, { fmt: 'none' }, 'ok', [
    { result: 'user_presence', opts: { up: false } },
    { result: 'user_verification', uv: 'required', opts: { uv: false } },
    ok({ uv: false }), // preferred: a sign-in without UV passes (and says so)
    { result: 'backup_state', opts: { bs: true } }, // BS without BE
    { result: 'backup_eligibility', opts: { be: true, bs: true } }, // BE appeared
    { result: 'malformed', opts: { trailing: Buffer.from([0]) } },
    ok({ extensions: new CborMap([['credProtect', 2]]) }), // extension data is skipped
  ]);
  add('soft-es256-synced', { alg: 'ES256', backupEligible: true, backupState: false }, { fmt: 'packed' }, 'ok', [
    ok({ bs: true }), // backed up since: BS may change
    { result: 'backup_eligibility', opts: { be: false, bs: false } }, // BE vanished
  ]);
  // Registrations that must be refused although every signature is right.
  add('soft-reg-no-up', { alg: 'ES256' }, { fmt: 'packed', up: false }, 'user_presence');
  add('soft-reg-no-uv-required', { alg: 'ES256' }, { fmt: 'none', uv: false, user_verification: 'required' }, 'user_verification');
  add('soft-reg-bs-without-be', { alg: 'ES256' }, { fmt: 'none', bs: true }, 'backup_state');
  add('soft-reg-trailing', { alg: 'RS256' }, { fmt: 'none', trailing: Buffer.from([0xa0]) }, 'malformed');
  add('soft-reg-att-alg', { alg: 'ES256' }, { fmt: 'packed', attAlg: -8 }, 'attestation');
  add('soft-reg-att-sig', { alg: 'EdDSA' }, { fmt: 'packed', badAttSig: true }, 'attestation');
  add('soft-reg-extensions', { alg: 'ES256' }, { fmt: 'packed', extensions: new CborMap([['credProtect', 1]]) }, 'ok', [ok()]);
  // ES384 (COSE -35) is not offered in pubKeyCredParams, so not accepted.
  add('soft-reg-es384', { alg: 'ES256' }, {
    fmt: 'none',
    coseOverride: new CborMap([[1, 2], [3, -35], [-1, 2], [-2, crypto.randomBytes(48)], [-3, crypto.randomBytes(48)]]),
  }, 'algorithm');
  // A COSE key whose alg says ES256 but whose curve is P-384.
  add('soft-reg-es256-wrong-curve', { alg: 'ES256' }, {
    fmt: 'none',
    coseOverride: new CborMap([[1, 2], [3, -7], [-1, 2], [-2, crypto.randomBytes(32)], [-3, crypto.randomBytes(32)]]),
  }, 'algorithm');
  for (const c of cases) console.log(`${c.name}: registration ${c.registration.result}, ${c.assertions.length} sign-ins`);
  return { recorded_with: 'tests/webauthn/softauth.mjs (Node crypto)', cases };
}

// ---- 3. fuzz seeds ----

// The first byte of a fuzz_webauthn.c input picks what the rest is.
const MODE = { attestationObject: 0, authenticatorData: 1, clientDataJSON: 2, registrationJSON: 3, assertionJSON: 4 };

function writeSeeds(sets) {
  const dir = path.join(SOURCE, 'tests/fuzz/corpus/webauthn');
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(dir)) if (f.startsWith('seed-')) fs.unlinkSync(path.join(dir, f));
  const put = (name, mode, data) => fs.writeFileSync(path.join(dir, `seed-${name}`), Buffer.concat([Buffer.from([mode]), Buffer.from(data)]));
  for (const set of sets) {
    for (const c of set.cases) {
      const r = c.registration.credential;
      put(`${c.name}-ao`, MODE.attestationObject, unb64u(r.response.attestationObject));
      put(`${c.name}-cd`, MODE.clientDataJSON, unb64u(r.response.clientDataJSON));
      put(`${c.name}-reg`, MODE.registrationJSON, JSON.stringify(r));
      const a = c.assertions[0]?.credential;
      if (a) {
        put(`${c.name}-ad`, MODE.authenticatorData, unb64u(a.response.authenticatorData));
        put(`${c.name}-get`, MODE.assertionJSON, JSON.stringify(a));
      }
    }
  }
}

const outDir = path.join(HERE, 'vectors');
fs.mkdirSync(outDir, { recursive: true });
const chromiumSet = await recordChromium();
const softwareSet = recordSoftware();
fs.writeFileSync(path.join(outDir, 'chromium.json'), JSON.stringify(chromiumSet, null, 1) + '\n');
fs.writeFileSync(path.join(outDir, 'software.json'), JSON.stringify(softwareSet, null, 1) + '\n');
writeSeeds([chromiumSet, softwareSet]);
console.log(`wrote ${path.relative(SOURCE, outDir)}/{chromium,software}.json and tests/fuzz/corpus/webauthn/seed-*`);
