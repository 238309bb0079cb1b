// A consumer of the installed `linescape` package (copied into a temporary project by
// scripts/pack-check.mjs, never run from the repository): two engines on 127.0.0.1, A calls B,
// B answers, a 1 kHz tone goes A -> B and is recognised by frequency, A hangs up, both stop.
// Every return code is checked; any failure exits non-zero.
//
// What the native pieces should look like is told through the environment, so the same file
// proves both the full install and the clean degradation:
//   EXPECT_SPEEXDSP=present|absent    enableEchoCancellation: SipAudioInFailure (libspeexdsp
//                                     loaded, no sound device) or SipNativeLibraryMissing
//   EXPECT_NAUDIODON=present|absent   getAudioDeviceList: SipSuccess or SipNativeLibraryMissing
//   EXPECT_CODEC=opus|PCMU            the codec the call negotiates (offer: Opus, then PCMU)
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import {
  VoipMediaEngine,
  TelephonyReturnValue as T,
  MediaFormatAudio,
  getTelephonyStatusString,
  LINESCAPE_VERSION,
} from 'linescape';

const expectSpeex = process.env.EXPECT_SPEEXDSP ?? 'present';
const expectNaudiodon = process.env.EXPECT_NAUDIODON ?? 'present';
const expectCodec = process.env.EXPECT_CODEC ?? 'opus';
// Only bounds a wait that never ends (a hang is a failure); nothing is judged by time.
const WAIT_LIMIT_MS = 30000;

let failures = 0;
function ok(what, good, detail = '') {
  console.log(`  ${good ? 'ok  ' : 'FAIL'} ${what}${detail ? `: ${detail}` : ''}`);
  if (!good) failures++;
  return good;
}
function rcIs(what, rc, want) {
  return ok(what, rc === want, `${T[rc] ?? rc} (${getTelephonyStatusString(rc)})${rc === want ? '' : `, expected ${T[want]}`}`);
}
function nextEvent(engine, name) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${name} within ${WAIT_LIMIT_MS} ms`)), WAIT_LIMIT_MS);
    engine.once(name, (n) => {
      clearTimeout(timer);
      resolve(n);
    });
  });
}

/** Power of `freq` (Goertzel) over the total power of the block: 1 for a pure tone. */
function toneShare(samples, freq, rate) {
  const k = 2 * Math.cos((2 * Math.PI * freq) / rate);
  let s1 = 0;
  let s2 = 0;
  let total = 0;
  for (const x of samples) {
    const s0 = x + k * s1 - s2;
    s2 = s1;
    s1 = s0;
    total += x * x;
  }
  const power = s1 * s1 + s2 * s2 - k * s1 * s2;
  return total === 0 ? 0 : (2 * power) / (samples.length * total);
}

async function main() {
  // The module really comes from the installed package, not from a source tree.
  const resolved = fileURLToPath(import.meta.resolve('linescape'));
  ok('linescape resolves into node_modules', /[\\/]node_modules[\\/]linescape[\\/]dist[\\/]index\.js$/.test(resolved), resolved);
  const pkg = createRequire(import.meta.url)('linescape/package.json');
  ok('linescape/package.json export', pkg.version === LINESCAPE_VERSION, `package ${pkg.version}, LINESCAPE_VERSION ${LINESCAPE_VERSION}`);

  const a = new VoipMediaEngine();
  const b = new VoipMediaEngine();
  const start = { numPhoneLinesRequested: 1, ipAddressOfThisHost: '127.0.0.1', sipPort: 0 };
  if (!rcIs('A startSipTelephony', await a.startSipTelephony({ ...start, phoneName: 'a' }), T.SipSuccess)) return;
  if (!rcIs('B startSipTelephony', await b.startSipTelephony({ ...start, phoneName: 'b' }), T.SipSuccess)) {
    await a.stopSipTelephony();
    return;
  }
  try {
    await call(a, b);
  } finally {
    rcIs('A stopSipTelephony', await a.stopSipTelephony(), T.SipSuccess);
    rcIs('B stopSipTelephony', await b.stopSipTelephony(), T.SipSuccess);
  }
}

async function call(a, b) {
  // The native pieces, through the package's own procedures.
  rcIs(`libspeexdsp ${expectSpeex} (enableEchoCancellation)`, a.enableEchoCancellation(true), expectSpeex === 'present' ? T.SipAudioInFailure : T.SipNativeLibraryMissing);
  const devices = await a.getAudioDeviceList();
  rcIs(`naudiodon ${expectNaudiodon} (getAudioDeviceList${devices.reason ? `, ${devices.reason.split('\n')[0]}` : ''})`, devices.result, expectNaudiodon === 'present' ? T.SipSuccess : T.SipNativeLibraryMissing);

  rcIs('A setAudioMediaFormats', a.setAudioMediaFormats(0, [MediaFormatAudio.Opus48k, MediaFormatAudio.ULaw8k]), T.SipSuccess);
  rcIs('B setAudioMediaFormats', b.setAudioMediaFormats(0, [MediaFormatAudio.Opus48k, MediaFormatAudio.ULaw8k]), T.SipSuccess);
  b.on('SipOkToAnswerCall', (n) => rcIs(`B goOffHook(${n.phoneLine})`, b.goOffHook(n.phoneLine), T.SipSuccess));
  const bConnected = nextEvent(b, 'SipIncomingCallConnected');
  if (!rcIs('A makeCall(b)', await a.makeCall('b', '127.0.0.1', b.getSipPort(), 0, true, 10000), T.SipSuccess)) return;
  await bConnected;
  ok('B connected', true);
  const info = a.getActiveCallInfo(0);
  rcIs('A getActiveCallInfo', info.result, T.SipSuccess);
  ok(`codec ${expectCodec}`, info.codec === expectCodec, String(info.codec));

  // 1 kHz from A; B listens until it has heard the tone steadily for half a second.
  const rx = b.openRxIvrChannel(0, { sampleRate: 8000 });
  const tx = a.openTxIvrChannel(0, { sampleRate: 8000 });
  rcIs('B openRxIvrChannel', rx.result, T.SipSuccess);
  rcIs('A openTxIvrChannel', tx.result, T.SipSuccess);
  if (!rx.channel || !tx.channel) return;
  const heard = await new Promise((resolve) => {
    const block = 800; // 100 ms at 8 kHz
    let pending = Buffer.alloc(0);
    let steady = 0;
    const timer = setTimeout(() => finish(false), WAIT_LIMIT_MS);
    function finish(result) {
      clearTimeout(timer);
      rx.channel.off('data', onData);
      resolve(result);
    }
    function onData(chunk) {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= block * 2) {
        const pcm = new Int16Array(pending.buffer.slice(pending.byteOffset, pending.byteOffset + block * 2));
        pending = pending.subarray(block * 2);
        let peak = 0;
        for (const x of pcm) peak = Math.max(peak, Math.abs(x));
        steady = peak > 2000 && toneShare(pcm, 1000, 8000) > 0.8 ? steady + 1 : 0;
        if (steady >= 5) return finish(true);
      }
    }
    rx.channel.on('data', onData);
    const tone = new Int16Array(8000 * 3);
    for (let i = 0; i < tone.length; i++) tone[i] = Math.round(8000 * Math.sin((2 * Math.PI * 1000 * i) / 8000));
    tx.channel.write(Buffer.from(tone.buffer));
  });
  ok('B hears 1 kHz from A (5 consecutive 100 ms blocks, > 80 % of the power at 1 kHz)', heard);
  rcIs('B closeRxIvrChannel', b.closeRxIvrChannel(rx.channel), T.SipSuccess);

  const bOnHook = nextEvent(b, 'SipOnHook');
  rcIs('A terminateCall', await a.terminateCall(0, true, 5000), T.SipSuccess);
  await bOnHook;
  ok('B on hook', true);
  const left = b.getNumActiveCalls();
  ok('no active call left on B', left.result === T.SipSuccess && left.numActiveCalls === 0, JSON.stringify(left));
}

main().then(
  () => {
    console.log(failures === 0 ? 'consumer call: all checks passed' : `consumer call: ${failures} check(s) failed`);
    process.exit(failures === 0 ? 0 : 1);
  },
  (err) => {
    console.error('consumer call failed:', err);
    process.exit(1);
  },
);
