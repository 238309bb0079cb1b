// A TypeScript consumer of the installed `linescape` package, type-checked by
// scripts/pack-check.mjs with `tsc --noEmit` (NodeNext resolution, skipLibCheck off, so the
// shipped .d.ts files are checked too). It imports values and types from 'linescape' and
// uses them the way the README does; the @ts-expect-error lines prove the types are real
// (an `any` would make them unused, which tsc reports).
import {
  VoipMediaEngine,
  TelephonyReturnValue as T,
  MediaFormatAudio,
  DtmfMethod,
  getTelephonyStatusString,
  type Notification,
  type StartSipTelephonyParams,
  type ActiveCallInfo,
  type RegisterReceivedData,
} from 'linescape';
import type { Readable } from 'node:stream';

export async function placeCall(user: string, port: number): Promise<T> {
  const engine = new VoipMediaEngine();
  const params: StartSipTelephonyParams = { numPhoneLinesRequested: 2, ipAddressOfThisHost: '127.0.0.1', sipPort: 0 };
  engine.on('notification', (n: Notification) => {
    const line: number = n.phoneLine;
    console.log(T[n.event], line);
    if (n.event === T.SipRegisterReceived) (n.data as unknown as RegisterReceivedData).acceptRegistration = true;
  });
  const started: T = await engine.startSipTelephony(params);
  if (started !== T.SipSuccess) return started;
  engine.setAudioMediaFormats(0, [MediaFormatAudio.Opus48k, MediaFormatAudio.ULaw8k]);
  const rc = await engine.makeCall(user, '127.0.0.1', port, 0, true, 10000);
  if (rc === T.SipSuccess) {
    const info: ActiveCallInfo = engine.getActiveCallInfo(0);
    const codec: string | undefined = info.codec;
    console.log(codec, getTelephonyStatusString(rc));
    const rx: Readable | undefined = engine.openRxIvrChannel(0, { sampleRate: 16000 }).channel;
    rx?.destroy();
    engine.sendDtmf(0, '12#', DtmfMethod.Rfc4733);
    await engine.terminateCall(0, true, 5000);
  }
  await engine.stopSipTelephony();
  return rc;
}

export function misuse(engine: VoipMediaEngine): void {
  // @ts-expect-error a phone line is a number
  engine.goOffHook('0');
  // @ts-expect-error startSipTelephony takes parameters, not a port number
  void engine.startSipTelephony(5060);
  // @ts-expect-error not a TelephonyReturnValue member
  void T.NoSuchCode;
}
