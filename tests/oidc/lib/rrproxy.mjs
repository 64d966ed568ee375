// A round-robin HTTP proxy standing in for the load balancer in front of
// several otpgate instances (issue 14). Like HAProxy in HTTP mode, it
// chooses per request, not per connection: the relying party's and the
// browser's kept-alive connections still spread every request over the
// instances. Each request goes to the next backend in turn on a new
// connection, with its method, path, headers (Host included) and body as
// they came; the answer comes back as it is. A backend that refuses the
// connection is skipped for the next one; when all refuse, 502.
import http from 'node:http';

export class RRProxy {
  constructor(backends) {
    this.backends = [...backends];
    this.next = 0;
    this.requests = this.backends.map(() => 0);
  }

  /** Listens on 127.0.0.1:port; rejects when the port is taken. */
  listen(port) {
    this.server = http.createServer((req, res) => this._forward(req, res));
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve(this.server.address().port);
      });
    });
  }

  async _forward(req, res) {
    // The body first, so a refused backend can be retried with it.
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const first = this.next % this.backends.length;
    this.next = (first + 1) % this.backends.length;
    for (let tried = 0; tried < this.backends.length; tried++) {
      const i = (first + tried) % this.backends.length;
      try {
        await this._send(i, req, body, res);
        return;
      } catch (e) {
        if (e.code !== 'ECONNREFUSED') {
          res.destroy();
          return;
        }
      }
    }
    res.writeHead(502).end();
  }

  _send(i, req, body, res) {
    return new Promise((resolve, reject) => {
      const up = http.request({
        host: '127.0.0.1', port: this.backends[i], method: req.method, path: req.url,
        headers: req.rawHeaders, agent: false,
      }, (ans) => {
        this.requests[i]++;
        res.writeHead(ans.statusCode, ans.statusMessage, ans.rawHeaders);
        ans.pipe(res);
        ans.once('end', resolve);
        ans.once('error', () => res.destroy());
      });
      up.once('error', reject);
      up.end(body);
    });
  }

  async close() {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(() => r()));
  }
}
