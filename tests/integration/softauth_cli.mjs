// The software authenticator of tests/webauthn/softauth.mjs as a line
// protocol for the Python tests (node's own modules only): one JSON request
// per stdin line, one JSON answer per stdout line.
//
//   {"op":"new", "alg":"ES256", "be":false}            -> {"auth":1}
//   {"op":"register", "auth":1, "options":{...}, "origin":"http://localhost:8443",
//    ...knobs}                                           -> {"credential":{...}}
//   {"op":"assert", "auth":1, "options":{...}, "origin":..., ...knobs}
//                                                        -> {"credential":{...}}
//
// options are what otpgate handed out (creation or request options JSON);
// the RP ID and challenge come from them unless "rpId" or "challenge"
// (base64url) override them. Other knobs go to softauth (up, uv, counter,
// fmt, userHandle: null to leave it out). An assertion carries the user
// handle of the authenticator's registration.
import readline from 'node:readline';

import { SoftAuthenticator, unb64u } from '../webauthn/softauth.mjs';

const auths = new Map();
let next = 1;

function handle(req) {
  if (req.op === 'new') {
    const a = new SoftAuthenticator({ alg: req.alg || 'ES256', backupEligible: !!req.be, backupState: !!req.bs });
    const id = next++;
    auths.set(id, a);
    return { auth: id, credential_id: a.credentialId.toString('base64url') };
  }
  const a = auths.get(req.auth);
  if (!a) throw new Error(`no authenticator ${req.auth}`);
  const o = req.options || {};
  const rpId = req.rpId || (o.rp ? o.rp.id : o.rpId);
  const challenge = unb64u(req.challenge || o.challenge);
  const knobs = { ...req };
  for (const k of ['op', 'auth', 'options', 'rpId', 'challenge']) delete knobs[k];
  if (req.op === 'register') {
    a.userHandle = o.user ? unb64u(o.user.id) : null;
    return { credential: a.register({ fmt: 'none', ...knobs, rpId, challenge }) };
  }
  if (req.op === 'assert') {
    const userHandle = 'userHandle' in req ? (req.userHandle ? unb64u(req.userHandle) : null) : a.userHandle;
    return { credential: a.assert({ ...knobs, rpId, challenge, userHandle }) };
  }
  throw new Error(`unknown op ${req.op}`);
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let out;
  try {
    out = handle(JSON.parse(line));
  } catch (e) {
    out = { error: String(e && e.message) };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
});
