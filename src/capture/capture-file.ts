/**
 * The capture file: batches of raw records exactly as the addon delivered
 * them, so that `replay` feeds the same bytes to the same decoder without
 * root or eBPF (tests, benchmarks, bug reports).
 *
 *   header (32 bytes): magic "HTCAPv1\0" | u32 abi version | u32 exchange header size
 *                      | i64 wall-clock minus monotonic clock, ns | u64 reserved
 *   frame:             u32 payload bytes | u32 records | payload (records back to back, of every type:
 *                      exchanges and TCP events, as decoder.ts walks them)
 *
 * All integers little-endian.
 */
import fs from 'node:fs';
import { TracerError } from '../errors';
import { ABI_VERSION, EXCHANGE_SIZE } from './abi';

const MAGIC = Buffer.from('HTCAPv1\0', 'latin1');
const HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 8;
/** A frame larger than this is corruption, not data (the addon flushes at 1 MiB). */
const MAX_FRAME_BYTES = 64 << 20;

export interface CaptureFileHeader {
  abiVersion: number;
  exchangeSize: number;
  /** Add to a *_monotime_ns value to get Unix time in ns. */
  wallMinusMonotonicNs: bigint;
}

export class CaptureFileWriter {
  private readonly fd: number;
  private closed = false;
  framesWritten = 0;
  recordsWritten = 0;

  constructor(path: string, wallMinusMonotonicNs: bigint) {
    this.fd = fs.openSync(path, 'w');
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    header.writeUInt32LE(ABI_VERSION, 8);
    header.writeUInt32LE(EXCHANGE_SIZE, 12);
    header.writeBigInt64LE(wallMinusMonotonicNs, 16);
    fs.writeSync(this.fd, header);
  }

  write(batch: Uint8Array, records: number): void {
    const frame = Buffer.alloc(FRAME_HEADER_BYTES);
    frame.writeUInt32LE(batch.byteLength, 0);
    frame.writeUInt32LE(records, 4);
    fs.writeSync(this.fd, frame);
    fs.writeSync(this.fd, batch);
    this.framesWritten++;
    this.recordsWritten += records;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}

function readExactly(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/**
 * Reads a capture file, calling onFrame for each frame in order and waiting
 * for it when it returns a promise (a consumer's backpressure). A file that
 * is not a capture, of another ABI version, or cut short raises
 * HT_ERR_CAPTURE_FILE naming the byte offset, after delivering every whole
 * frame before it.
 */
export async function readCaptureFile(
  path: string,
  onFrame: (batch: Buffer, records: number, header: CaptureFileHeader) => void | Promise<void>,
): Promise<CaptureFileHeader & { frames: number; records: number }> {
  const fd = fs.openSync(path, 'r');
  try {
    const header = readExactly(fd, HEADER_BYTES, 0);
    if (header.length < HEADER_BYTES || !header.subarray(0, 8).equals(MAGIC)) {
      throw new TracerError('HT_ERR_CAPTURE_FILE', `${path}: not a capture file (no "HTCAPv1" header at byte 0)`);
    }
    const info: CaptureFileHeader = {
      abiVersion: header.readUInt32LE(8),
      exchangeSize: header.readUInt32LE(12),
      wallMinusMonotonicNs: header.readBigInt64LE(16),
    };
    if (info.abiVersion !== ABI_VERSION || info.exchangeSize !== EXCHANGE_SIZE) {
      throw new TracerError(
        'HT_ERR_CAPTURE_FILE',
        `${path}: recorded with ABI version ${info.abiVersion} (record ${info.exchangeSize} bytes); this build reads version ${ABI_VERSION} (${EXCHANGE_SIZE} bytes)`,
      );
    }
    let position = HEADER_BYTES;
    let frames = 0;
    let records = 0;
    for (;;) {
      const frameHeader = readExactly(fd, FRAME_HEADER_BYTES, position);
      if (frameHeader.length === 0) break;
      if (frameHeader.length < FRAME_HEADER_BYTES) {
        throw new TracerError('HT_ERR_CAPTURE_FILE', `${path}: truncated frame header at byte ${position}`);
      }
      const length = frameHeader.readUInt32LE(0);
      const count = frameHeader.readUInt32LE(4);
      if (length > MAX_FRAME_BYTES) {
        throw new TracerError('HT_ERR_CAPTURE_FILE', `${path}: frame at byte ${position} claims ${length} bytes (at most ${MAX_FRAME_BYTES})`);
      }
      const payload = readExactly(fd, length, position + FRAME_HEADER_BYTES);
      if (payload.length < length) {
        throw new TracerError('HT_ERR_CAPTURE_FILE', `${path}: frame at byte ${position} truncated (${payload.length} of ${length} bytes)`);
      }
      await onFrame(payload, count, info);
      frames++;
      records += count;
      position += FRAME_HEADER_BYTES + length;
    }
    return { ...info, frames, records };
  } finally {
    fs.closeSync(fd);
  }
}
