// Verifies webhook deliveries with the reference implementation of Standard
// Webhooks (the standardwebhooks package), for tests/integration.
//
// stdin: {"secret": "whsec_...", "now_offset": seconds (optional),
//         "deliveries": [{"headers": {name: value}, "body_b64": "..."}]}
// stdout: [{"ok": true, "payload": {...}} | {"ok": false, "error": "..."}]
//
// now_offset moves the verifier's clock, to show that a delivery replayed
// later than the library's tolerance is refused.
import { Webhook } from "standardwebhooks";

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));

if (input.now_offset) {
  const realNow = Date.now;
  Date.now = () => realNow() + input.now_offset * 1000;
}

const wh = new Webhook(input.secret);
const out = input.deliveries.map((d) => {
  const body = Buffer.from(d.body_b64, "base64").toString("utf8");
  try {
    return { ok: true, payload: wh.verify(body, d.headers) };
  } catch (e) {
    return { ok: false, error: String(e && e.message ? e.message : e) };
  }
});
process.stdout.write(JSON.stringify(out));
