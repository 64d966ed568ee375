// `otpgate keys rotate` while the server runs: the JWKS then publishes the
// old and the new key, a token signed before still validates against the
// published set, and new tokens carry the new kid.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Provider, client, jose, newUser } from './lib/provider.mjs';

let op;
before(async () => {
  op = await Provider.start({ policy: 'mandatory' });
});
after(async () => {
  if (op) await op.stop();
});

function kidOf(jwt) {
  return jose.decodeProtectedHeader(jwt).kid;
}

async function jwks() {
  const res = await fetch(`${op.issuer}/jwks.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') || '', /json/);
  return res.json();
}

/** A login and token exchange through a fresh openid-client configuration
 * (so its JWKS cache is fresh too); returns the token endpoint response. */
async function tokensFor(user) {
  const config = await op.rp(op.apps.demo);
  const a = await op.login(config, op.apps.demo, user);
  return client.authorizationCodeGrant(config, a.callback, {
    pkceCodeVerifier: a.verifier, expectedNonce: a.nonce, expectedState: a.state, idTokenExpected: true,
  });
}

test('keys rotate: both keys published, the old token still validates, new tokens use the new kid', async () => {
  const user = newUser('rotate');
  await op.enrolEmail(user);

  const before = await jwks();
  assert.equal(before.keys.length, 1, `JWKS before the rotation: ${JSON.stringify(before)}`);
  const [oldKey] = before.keys;
  assert.equal(oldKey.kty, 'EC');
  assert.equal(oldKey.crv, 'P-256');
  assert.ok(!('d' in oldKey), 'the JWKS publishes a private key');

  const first = await tokensFor(user);
  const oldToken = first.id_token;
  assert.equal(kidOf(oldToken), oldKey.kid);

  const out = JSON.parse(op.cli(['keys', 'rotate']));
  assert.ok(out.kid && out.kid !== oldKey.kid, `keys rotate printed ${JSON.stringify(out)}`);

  const afterRotation = await jwks();
  const kids = afterRotation.keys.map((k) => k.kid).sort();
  assert.deepEqual(kids, [oldKey.kid, out.kid].sort(), `JWKS after the rotation: ${JSON.stringify(afterRotation)}`);
  for (const k of afterRotation.keys) assert.ok(!('d' in k), 'the JWKS publishes a private key');

  // The old token, against the published set (jose fetches it afresh).
  const remote = jose.createRemoteJWKSet(new URL(`${op.issuer}/jwks.json`));
  const { payload, protectedHeader } = await jose.jwtVerify(oldToken, remote, {
    issuer: op.issuer, audience: op.apps.demo.client_id, algorithms: ['ES256'],
  });
  assert.equal(protectedHeader.kid, oldKey.kid);
  assert.equal(payload.sub, user.sub);

  // A new login: signed with the new key, valid for openid-client and jose.
  const second = await tokensFor(user);
  assert.equal(kidOf(second.id_token), out.kid);
  assert.equal(second.claims().sub, user.sub);
  const again = await jose.jwtVerify(second.id_token, jose.createRemoteJWKSet(new URL(`${op.issuer}/jwks.json`)), {
    issuer: op.issuer, audience: op.apps.demo.client_id, algorithms: ['ES256'],
  });
  assert.equal(again.protectedHeader.kid, out.kid);

  // The old token does not validate with the new key alone.
  const newKey = afterRotation.keys.find((k) => k.kid === out.kid);
  await assert.rejects(jose.jwtVerify(oldToken, await jose.importJWK({ ...newKey, alg: 'ES256' }, 'ES256')));
});
