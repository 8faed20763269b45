/**
 * Progress bars for long transfers (push, pull) on stderr: bytes done and total,
 * throughput and ETA. Only when stderr is a terminal; in pipes and files nothing is drawn.
 */
import cliProgress from 'cli-progress';
import type { ProgressCallback } from '../core/registry-api.js';
import { formatBytes } from './format.js';

export interface ProgressBar {
  readonly onProgress: ProgressCallback;
  /** Removes the bar. Idempotent. */
  stop(): void;
}

/** A bar labelled `label` on `stream`, or undefined when the stream is not a terminal. */
export function startProgress(
  stream: NodeJS.WritableStream & { isTTY?: boolean },
  label: string,
): ProgressBar | undefined {
  if (!stream.isTTY) return undefined;
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} [{bar}] {percentage}% | {done} / {size} | {speed} | ETA {eta_formatted}`,
      barCompleteChar: '#',
      barIncompleteChar: '-',
      barsize: 30,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
      fps: 10,
    },
    cliProgress.Presets.legacy,
  );
  const started = Date.now();
  let running = false;
  return {
    onProgress: ({ bytesDone, bytesTotal }) => {
      const seconds = Math.max((Date.now() - started) / 1000, 0.001);
      const payload = {
        done: formatBytes(bytesDone),
        size: formatBytes(bytesTotal),
        speed: `${formatBytes(Math.round(bytesDone / seconds))}/s`,
      };
      if (!running) {
        bar.start(Math.max(bytesTotal, 1), bytesDone, payload);
        running = true;
      } else {
        bar.setTotal(Math.max(bytesTotal, 1));
        bar.update(bytesDone, payload);
      }
    },
    stop: () => {
      if (running) bar.stop();
      running = false;
    },
  };
}
