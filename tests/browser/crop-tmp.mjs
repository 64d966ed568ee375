import { chromium } from 'playwright-core';
const [,, file, out, y = '0', h = '1400', w = '360'] = process.argv;
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--allow-file-access-from-files'] });
const p = await b.newPage({ viewport: { width: +w, height: +h } });
await p.goto('file:///tmp/');
await p.setContent(`<body style="margin:0"><img src="file://${file}" style="display:block;position:absolute;top:-${y}px;left:0"></body>`);
await p.waitForTimeout(300);
await p.screenshot({ path: out });
await b.close();
