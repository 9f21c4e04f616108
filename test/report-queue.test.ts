// The report queue behind every HID transport keeps one timer for all its reads: each read must
// still end at its own deadline — a short one after a long one, a long one across the timer's
// 50 ms slices — and a report or end() must end a wait at once.
import { describe, expect, it } from 'vitest';
import { DeviceIoError } from '../src/errors/index.js';
import { ReportQueue } from '../src/hid/report-queue.js';

const report = (n: number) => new Uint8Array(64).fill(n);

async function timed<T>(p: Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await p;
  return [value, performance.now() - start];
}

describe('ReportQueue reads and their deadlines', () => {
  it('gives a queued report at once, and one pushed during a wait as it comes', async () => {
    const q = new ReportQueue();
    q.push(report(1));
    expect(await q.read(1000)).toEqual(report(1));
    setTimeout(() => q.push(report(2)), 5);
    const [value, ms] = await timed(q.read(1000));
    expect(value).toEqual(report(2));
    expect(ms).toBeLessThan(500);
  });

  it('ends each read at its own deadline: short, after a report, and long across the timer slices', async () => {
    const q = new ReportQueue();
    const [none, shortMs] = await timed(q.read(30));
    expect(none).toBeUndefined();
    expect(shortMs).toBeGreaterThanOrEqual(28);
    // A long read ended by a report leaves the timer armed; a shorter read after it still ends on time.
    setTimeout(() => q.push(report(3)), 5);
    expect(await q.read(2000)).toEqual(report(3));
    const [again, againMs] = await timed(q.read(15));
    expect(again).toBeUndefined();
    expect(againMs).toBeGreaterThanOrEqual(13);
    expect(againMs).toBeLessThan(45);
    const [long, longMs] = await timed(q.read(130));
    expect(long).toBeUndefined();
    expect(longMs).toBeGreaterThanOrEqual(128);
  });

  it('ends a wait at once on end(), and rejects it on fail()', async () => {
    const q = new ReportQueue();
    const waiting = timed(q.read(5000));
    setTimeout(() => q.end(), 5);
    const [value, ms] = await waiting;
    expect(value).toBeUndefined();
    expect(ms).toBeLessThan(1000);
    const f = new ReportQueue();
    const failing = f.read(5000);
    const error = new DeviceIoError('gone');
    setTimeout(() => f.fail(error), 5);
    await expect(failing).rejects.toBe(error);
  });
});
