// play.mjs opens a livedge player page in headless Chromium and waits until
// its <video> has played for a given time, past that time, with a decoded
// picture.
//
//   node play.mjs URL SCREENSHOT.png [MIN_SECONDS] [TIMEOUT_SECONDS]
//
// It prints one JSON line with what it saw ({"ok":true,...}) and exits 0 on
// success; on failure it prints the same line with "ok":false and the
// reason, then the page's console messages, page errors and failed
// requests, and exits 1. Environment: CHROMIUM (default /usr/bin/chromium).
//
// Run by appliance/e2e/browser_test.go; playwright-core is pinned in
// package.json and installed by `make test-deps` (npm ci).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [url, screenshot, minArg, timeoutArg] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error('usage: node play.mjs URL SCREENSHOT.png [MIN_SECONDS] [TIMEOUT_SECONDS]');
  process.exit(2);
}
const minSeconds = Number(minArg ?? 5);
const timeoutMs = Number(timeoutArg ?? 60) * 1000;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

// Nothing but the page under test: no background traffic, no profile state.
const args = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

const log = [];
const note = (kind, text) => log.push(`[${new Date().toISOString()}] ${kind}: ${text}`);

// state reads what the test asserts on, plus what helps explain a failure.
const state = () => {
  const v = document.getElementById('player');
  if (!v) return { error: 'no #player video element' };
  const buffered = [];
  for (let i = 0; i < v.buffered.length; i++) buffered.push([v.buffered.start(i), v.buffered.end(i)]);
  let played = 0;
  for (let i = 0; i < v.played.length; i++) played += v.played.end(i) - v.played.start(i);
  return {
    currentTime: v.currentTime,
    played,
    videoWidth: v.videoWidth,
    videoHeight: v.videoHeight,
    readyState: v.readyState,
    paused: v.paused,
    mediaError: v.error ? `${v.error.code} ${v.error.message}` : null,
    buffered,
    status: document.getElementById('status')?.textContent ?? '',
    // hls.js plays through MSE (a blob: URL); the browser's own HLS player
    // has the playlist URL itself.
    player: v.currentSrc.startsWith('blob:') ? 'hls.js' : 'native',
    userAgent: navigator.userAgent,
    hlsjs: typeof window.Hls === 'function',
    nativeHLS: v.canPlayType('application/vnd.apple.mpegurl'),
    mseH264AAC: typeof MediaSource !== 'undefined' &&
      MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E,mp4a.40.2"'),
  };
};

const userDataDir = mkdtempSync(join(tmpdir(), 'livedge-chromium-'));
let context;
let result = { ok: false, url };
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args,
    viewport: { width: 640, height: 360 },
    timeout: 30000,
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.on('console', (m) => note(`console.${m.type()}`, m.text()));
  page.on('pageerror', (e) => note('pageerror', e.stack || String(e)));
  page.on('requestfailed', (r) => note('requestfailed', `${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) note('http', `${r.status()} ${r.url()}`); });

  // Chromium's media log (what chrome://media-internals shows) says why a
  // pipeline failed, which the page's MediaError alone does not.
  const cdp = await context.newCDPSession(page);
  cdp.on('Media.playerMessagesLogged', (e) => e.messages.forEach((m) => note(`media.${m.level}`, m.message)));
  cdp.on('Media.playerErrorsRaised', (e) => e.errors.forEach((x) => note('media.error', JSON.stringify(x))));
  cdp.on('Media.playerPropertiesChanged', (e) => e.properties.forEach((p) => note('media.property', `${p.name}=${p.value}`)));
  await cdp.send('Media.enable');

  await page.goto(url, { waitUntil: 'load', timeout: 30000 });
  try {
    // A media error that lasts 10 s is final: hls.js recovers sooner, and
    // the browser's own HLS player never does.
    const outcome = await page.waitForFunction(
      (min) => {
        const v = document.getElementById('player');
        if (!v) return false;
        // hls.js starts a live stream by seeking near its live edge, so
        // currentTime alone may pass min without a frame played: count the
        // time actually played too.
        let played = 0;
        for (let i = 0; i < v.played.length; i++) played += v.played.end(i) - v.played.start(i);
        if (v.currentTime > min && played > min && v.videoWidth > 0) return 'played';
        if (!v.error) { window.errorSince = undefined; return false; }
        window.errorSince ??= Date.now();
        return Date.now() - window.errorSince > 10000 ? 'media error' : false;
      },
      minSeconds,
      { timeout: timeoutMs, polling: 250 },
    );
    if (await outcome.jsonValue() === 'played') {
      result.ok = true;
    } else {
      result.reason = 'the video element stopped on a media error';
    }
  } catch (e) {
    result.reason = `video did not play past ${minSeconds}s with a picture within ${timeoutMs / 1000}s: ${e.message.split('\n')[0]}`;
  }
  Object.assign(result, await page.evaluate(state));
  await page.screenshot({ path: screenshot });
  result.screenshot = screenshot;
} catch (e) {
  result.reason = e.stack || String(e);
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}

console.log(JSON.stringify(result));
if (!result.ok) {
  console.log(log.join('\n'));
  process.exit(1);
}
