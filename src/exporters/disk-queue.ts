/**
 * A disk-backed FIFO of opaque records (one encoded request body each) between
 * the forwarder and a central store (remote-write, OTLP), so that what the
 * store has not taken yet survives its outages and our restarts. One queue,
 * one directory, one process (a second open in this process is refused; two
 * processes on one directory are not detected: give each target its own).
 *
 *   append(body) ──► 00000000000000000001.seg  [rec 1][rec 2]…[rec k]      closed at segmentBytes
 *                    00000000000000000412.seg  [rec 412]…                  closed
 *                    00000000000000000820.seg  [rec 820]…[rec n] ◄ appends active, the only one written
 *   peek(n) ◄─ from the first record after `acked`, in seq order, without removing
 *   ack(seq) ─► `acked` := seq (write acked.tmp, rename); segments wholly ≤ seq unlinked
 *   bound: an append that would pass maxBytes unlinks the oldest segments first (counted)
 *
 * On disk. A segment is named by the seq of its first record (20 digits, so
 * names sort as numbers) and holds whole records, never part of one; a record
 * longer than segmentBytes gets a segment to itself. A record is a 40-byte
 * header and its payload, little-endian:
 *
 *    0  magic        4  "HTQR"
 *    4  version      1  1
 *    5  flags        1  0
 *    6  headerBytes  2  40
 *    8  payloadBytes 4  uint32
 *   12  payloadCrc   4  CRC-32C of the payload
 *   16  seq          8  uint64 (below 2^53), +1 per record, never reused across restarts
 *                          (only a power cut that loses records and `acked` can give theirs again)
 *   24  appendedAt   8  float64, Unix ms from options.now
 *   32  headerCrc    4  CRC-32C of bytes 0–31
 *   36  weight       4  the caller's number for the record (the forwarder: its samples), summed over
 *                       dropped records in stats; outside the header CRC (statistics only)
 *   40  payload
 *
 * `acked` holds the last delivered seq as decimal text and a newline; absent = 0.
 *
 * Recovery (open). Every segment is read and every record checked: header
 * (magic, version, header CRC) and payload (length within the file, CRC). A
 * record whose payload fails its CRC is skipped by its length; a header that
 * fails is skipped up to the next valid header (a scan for the magic), one
 * count per damaged stretch; both are counted in tornRecords. The newest
 * segment is then truncated after its last good record (a torn tail: the
 * process or the machine died inside a write), and appends continue there.
 * Segments left with no good record, or wholly acked, are unlinked.
 *
 * Durability (the fsync policy, options.fsync):
 *   'always'   fdatasync the segment after every append; the ack file is
 *              fsynced before its rename and the directory after it (and after
 *              a segment is created). What append or ack returned survives a
 *              power cut. Costs one disk flush per append.
 *   'interval' (default) the first append or ack after syncIntervalMs (default
 *              1000) have passed since the last sync starts one at once; any
 *              later one arms a timer that starts one when the interval ends
 *              (the segments closed meanwhile included); close() syncs. The
 *              sync runs on libuv's thread pool (disk-flush.ts), so a disk
 *              that takes seconds to flush never stalls the event loop; while
 *              one runs, the next waits for it. With one append per flush
 *              interval (longer than a second) that is every append.
 *   'never'    no fsync at all; the kernel writes back when it likes (~30 s).
 * A crash of the process (SIGKILL, OOM, a bug) loses nothing that append()
 * or ack() returned, whatever the policy: write() and rename() had reached the
 * kernel's page cache, which the kernel writes back. A power cut or kernel
 * panic loses, under 'interval', at most the last syncIntervalMs of appends
 * and acks (an ack lost means those records are sent again: delivery is at
 * least once); under 'never', up to the kernel's write-back delay. A record
 * torn by either is found and skipped at open, never returned. Under 'always'
 * and at close() the sync runs on the calling thread; under 'interval', off it.
 *
 * Ownership: the caller owns the DiskQueue from open() to close(). append()
 * copies the payload to the page cache before it returns and keeps no
 * reference; peek() returns fresh Buffers the caller owns.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { TracerError } from '../errors';
import { crc32c } from './crc32c';
import { FlushFailure, flushLater, flushNow, isEmpty, mergeFlushes, type PendingFlush } from './disk-flush';
import { errorText, prepareDataDirectory } from '../storage/data-dir';

export interface DiskQueueOptions {
  /** Bound on the queue's bytes on disk (all segments); default 256 MiB. When an append would pass it, the oldest segment(s) go first (counted). */
  maxBytes?: number;
  /** A segment is closed and a new one started past this size; default 8 MiB (a record never spans segments; a record larger than a segment gets its own). */
  segmentBytes?: number;
  /** 'always': fsync every append (and the ack file); 'interval': fsync at most every syncIntervalMs (default 1000) and on close; 'never'. Default 'interval'. */
  fsync?: 'always' | 'interval' | 'never';
  syncIntervalMs?: number;
  /** The clock of appendedAt (Unix ms); Date.now by default. */
  now?: () => number;
}

/** One record. From peek(), `data` is a fresh Buffer the caller owns; from append(), it is the caller's own Buffer. */
export interface QueuedRecord {
  seq: number;
  appendedAt: number;
  /** What append() was given with the record (default 0). */
  weight: number;
  data: Buffer;
}

export interface DiskQueueStats {
  /** Records not yet acked, on disk. */
  records: number;
  /** Bytes of all segment files (headers and acked records not yet unlinked included): what maxBytes bounds. */
  bytes: number;
  segments: number;
  /** appendedAt of the oldest record not yet acked; absent when there is none. */
  oldestAppendedAt?: number;
  /** Records appended since open. */
  appended: number;
  /** Records acked since open (those dropped before their ack not included). */
  acked: number;
  /** Records not yet acked that went with a dropped segment (the maxBytes bound; a segment file removed by someone else), since open. */
  droppedRecords: number;
  droppedSegments: number;
  /** The weights of the dropped records (the forwarder: samples lost to the bound), since open. */
  droppedWeight: number;
  /** Records skipped as unreadable: at open (a torn tail, a bad checksum; one per damaged stretch) or, rarely, by peek (a checksum failing later). */
  tornRecords: number;
}

const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024;
const DEFAULT_SYNC_INTERVAL_MS = 1000;

const MAGIC_BYTES = Buffer.from('HTQR', 'latin1');
const MAGIC = MAGIC_BYTES.readUInt32LE(0);
const VERSION = 1;
export const RECORD_HEADER_BYTES = 40;
const HEADER_CRC_OFFSET = 32;
const MAX_PAYLOAD_BYTES = 0xffffffff;

const SEGMENT_NAME = /^(\d{20})\.seg$/;
const ACK_FILE = 'acked';
const ACK_TMP_FILE = 'acked.tmp';

/** Directories open in this process (resolved paths): a second DiskQueue on one would corrupt both. */
const openDirs = new Set<string>();

interface Entry {
  seq: number;
  /** Of the record's header in its segment. */
  offset: number;
  length: number;
  appendedAt: number;
  weight: number;
}

interface Segment {
  file: string;
  /** Size of the file: where the next record goes when it is the active segment. */
  bytes: number;
  /** In seq order. */
  entries: Entry[];
}

interface Header {
  length: number;
  crc: number;
  seq: number;
  appendedAt: number;
  weight: number;
}

export class DiskQueue {
  /** Resolved, for the files. */
  private readonly dir: string;
  /** As the caller gave it, for messages. */
  private readonly label: string;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly fsyncPolicy: 'always' | 'interval' | 'never';
  private readonly syncIntervalMs: number;
  private readonly now: () => number;

  private readonly segments: Segment[] = [];
  /** The newest segment, open for appends; undefined until the next append creates one. */
  private active: { segment: Segment; fd: number } | undefined;
  private ackedSeq = 0;
  private nextSeq = 1;
  private totalBytes = 0;
  private totalEntries = 0;
  private readonly counters = { appended: 0, acked: 0, droppedRecords: 0, droppedSegments: 0, droppedWeight: 0, tornRecords: 0 };
  private closed = false;

  /** Segment files with appends not synced yet (the active one, and those closed since the last sync). */
  private readonly dirtyFiles = new Set<string>();
  private ackDirty = false;
  private dirDirty = false;
  private lastSyncMs = -Infinity;
  private syncTimer: NodeJS.Timeout | undefined;
  /** What the 'interval' sync running on the thread pool flushes; close() flushes it again itself. */
  private syncing: PendingFlush | undefined;
  /** A sync off the calling thread that failed: reported by the next append. */
  private syncError: TracerError | undefined;

  /** Reused for every append's header (append is synchronous). */
  private readonly header = Buffer.alloc(RECORD_HEADER_BYTES);

  private constructor(dir: string, label: string, options: DiskQueueOptions) {
    this.dir = dir;
    this.label = label;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.fsyncPolicy = options.fsync ?? 'interval';
    this.syncIntervalMs = options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS;
    this.now = options.now ?? Date.now;
  }

  /**
   * Opens the queue in dir, creating the directory (0700) when missing, and
   * recovers what is there (see the file's header). Throws TracerError
   * HT_ERR_DATA_DIR "<dir>: <what is wrong>" when the directory or a file in
   * it cannot be used, HT_ERR_OPTION for a bad option.
   */
  static open(dir: string, options: DiskQueueOptions = {}): DiskQueue {
    validateOptions(dir, options);
    const resolved = path.resolve(dir);
    if (openDirs.has(resolved)) {
      throw new TracerError('HT_ERR_DATA_DIR', `${dir}: the disk queue there is already open in this process; give each forwarding target its own directory`);
    }
    prepareDataDirectory(dir, (what, cause) => new TracerError('HT_ERR_DATA_DIR', `${dir}: ${what}`, { cause }));
    const queue = new DiskQueue(resolved, dir, options);
    queue.recover();
    openDirs.add(resolved);
    return queue;
  }

  /**
   * Appends one record (data: the payload, at most 4 GiB − 1) and returns its
   * seq. Synchronous: when it returns, the record is in the page cache (and on
   * disk under 'always'). May first unlink the oldest segments to stay within
   * maxBytes; a record larger than maxBytes is still written, alone.
   * weight: a whole number 0..2^32-1 kept with the record (the forwarder: its
   * samples), summed in stats().droppedWeight when the record is dropped.
   */
  append(data: Buffer, weight = 0): QueuedRecord {
    this.assertOpen('append');
    if (this.syncError) {
      const e = this.syncError;
      this.syncError = undefined;
      throw e;
    }
    if (!Number.isInteger(weight) || weight < 0 || weight > 0xffff_ffff) throw new RangeError(`disk queue ${this.label}: weight ${weight} is not a whole number below 2^32`);
    if (data.length > MAX_PAYLOAD_BYTES) throw new RangeError(`disk queue ${this.label}: a record is at most ${MAX_PAYLOAD_BYTES} bytes (got ${data.length})`);
    const recordBytes = RECORD_HEADER_BYTES + data.length;
    if (this.active && this.active.segment.bytes + recordBytes > this.segmentBytes) this.closeActive();
    while (this.segments.length > 0 && this.totalBytes + recordBytes > this.maxBytes) this.drop(this.segments[0]);
    if (!this.active) this.startSegment(this.nextSeq);
    const { segment, fd } = this.active!;

    const seq = this.nextSeq;
    const appendedAt = this.now();
    const h = this.header;
    h.writeUInt32LE(MAGIC, 0);
    h.writeUInt8(VERSION, 4);
    h.writeUInt8(0, 5);
    h.writeUInt16LE(RECORD_HEADER_BYTES, 6);
    h.writeUInt32LE(data.length, 8);
    h.writeUInt32LE(crc32c(data), 12);
    h.writeUInt32LE(seq % 0x1_0000_0000, 16);
    h.writeUInt32LE(Math.floor(seq / 0x1_0000_0000), 20);
    h.writeDoubleLE(appendedAt, 24);
    h.writeUInt32LE(crc32c(h.subarray(0, HEADER_CRC_OFFSET)), HEADER_CRC_OFFSET);
    h.writeUInt32LE(weight, 36);

    try {
      writeAll(fd, h, data, segment.bytes);
    } catch (e) {
      this.undoWrite();
      throw this.problem(`cannot write ${path.basename(segment.file)}`, e);
    }
    segment.entries.push({ seq, offset: segment.bytes, length: data.length, appendedAt, weight });
    segment.bytes += recordBytes;
    this.totalBytes += recordBytes;
    this.totalEntries++;
    this.nextSeq++;
    this.counters.appended++;

    if (this.fsyncPolicy === 'always') {
      this.dirtyFiles.add(segment.file);
      this.syncNow();
    } else if (this.fsyncPolicy === 'interval') {
      this.dirtyFiles.add(segment.file);
      this.scheduleSync();
    }
    return { seq, appendedAt, weight, data };
  }

  /**
   * Up to maxRecords records (and about maxBytes of payload: at least one
   * record, then none that would pass it) from the oldest not acked, in seq
   * order, without removing them: the same ones again until ack(). Each is
   * read from disk and its CRC checked; one failing is skipped (tornRecords).
   */
  peek(maxRecords: number, maxBytes = Infinity): QueuedRecord[] {
    this.assertOpen('peek');
    const out: QueuedRecord[] = [];
    let bytes = 0;
    for (let s = 0; s < this.segments.length && out.length < maxRecords; s++) {
      const segment = this.segments[s];
      let i = countAtMost(segment.entries, this.ackedSeq);
      if (i >= segment.entries.length) continue;
      const fd = this.readFd(segment);
      if (fd === undefined) {
        s--; // the segment was dropped: the next one has its index
        continue;
      }
      try {
        while (i < segment.entries.length && out.length < maxRecords) {
          const entry = segment.entries[i];
          if (out.length > 0 && bytes + entry.length > maxBytes) return out;
          const data = this.readRecord(segment, fd, entry);
          if (data === undefined) {
            segment.entries.splice(i, 1);
            this.totalEntries--;
            this.counters.tornRecords++;
            continue;
          }
          out.push({ seq: entry.seq, appendedAt: entry.appendedAt, weight: entry.weight, data });
          bytes += entry.length;
          i++;
        }
      } finally {
        if (fd !== this.active?.fd) fs.closeSync(fd);
      }
    }
    return out;
  }

  /**
   * Everything up to and including seq is delivered: it is never returned
   * again, here or after a restart. The position is written to `acked`
   * (acked.tmp, then rename: whole or not at all), then segments holding
   * only acked records are unlinked. A seq at or below the current position
   * changes nothing; one not yet appended is a RangeError.
   */
  ack(seq: number): void {
    this.assertOpen('ack');
    if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`disk queue ${this.label}: ack(${seq}): a seq is a non-negative integer`);
    if (seq >= this.nextSeq) throw new RangeError(`disk queue ${this.label}: ack(${seq}): the last seq appended is ${this.nextSeq - 1}`);
    if (seq <= this.ackedSeq) return;

    this.writeAck(seq);
    for (const segment of this.segments) {
      const entries = segment.entries;
      if (entries.length > 0 && entries[0].seq > seq) break;
      this.counters.acked += countAtMost(entries, seq) - countAtMost(entries, this.ackedSeq);
    }
    this.ackedSeq = seq;

    while (this.segments.length > 0) {
      const entries = this.segments[0].entries;
      if (entries.length > 0 && entries[entries.length - 1].seq > seq) break;
      this.remove(this.segments[0]);
    }
  }

  stats(): DiskQueueStats {
    const first = this.firstUnacked();
    let acked = 0;
    for (const segment of this.segments) acked += countAtMost(segment.entries, this.ackedSeq);
    const stats: DiskQueueStats = {
      records: this.totalEntries - acked,
      bytes: this.totalBytes,
      segments: this.segments.length,
      ...this.counters,
    };
    if (first) stats.oldestAppendedAt = first.appendedAt;
    return stats;
  }

  /** Syncs (unless fsync is 'never') and closes the files. Idempotent; the queue cannot be used after. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    try {
      // A sync still running off the thread is done again here: when close() returns, all is on disk.
      if (this.fsyncPolicy !== 'never') this.syncNow(this.syncing);
    } finally {
      if (this.active) fs.closeSync(this.active.fd);
      this.active = undefined;
      openDirs.delete(this.dir);
    }
  }

  // ---- recovery ------------------------------------------------------------

  private recover(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch (e) {
      throw this.problem('cannot be listed', e);
    }
    if (names.includes(ACK_TMP_FILE)) this.unlinkQuietly(path.join(this.dir, ACK_TMP_FILE)); // an ack that never reached its rename
    this.ackedSeq = this.readAck();

    const segmentNames = names.filter((n) => SEGMENT_NAME.test(n)).sort();
    let maxSeq = this.ackedSeq;
    let lastSeq = 0;
    for (let k = 0; k < segmentNames.length; k++) {
      const name = segmentNames[k];
      const file = path.join(this.dir, name);
      const newest = k === segmentNames.length - 1;
      maxSeq = Math.max(maxSeq, Number(name.slice(0, 20)));
      let contents: Buffer;
      try {
        contents = fs.readFileSync(file);
      } catch (e) {
        throw this.problem(`cannot read ${name}`, e);
      }
      const scan = scanSegment(contents);
      this.counters.tornRecords += scan.damaged;
      const entries: Entry[] = [];
      for (const entry of scan.entries) {
        // Seqs only grow; a record that says otherwise is damage its CRCs missed.
        if (entry.seq > lastSeq) entries.push(entry);
        else this.counters.tornRecords++;
        lastSeq = Math.max(lastSeq, entry.seq);
      }
      maxSeq = Math.max(maxSeq, lastSeq, scan.maxSeq);
      const last = entries[entries.length - 1];
      if (!last || last.seq <= this.ackedSeq) {
        this.unlinkQuietly(file);
        continue;
      }

      let bytes = contents.length;
      const goodEnd = last.offset + RECORD_HEADER_BYTES + last.length;
      if (newest && goodEnd < bytes) {
        try {
          fs.truncateSync(file, goodEnd);
        } catch (e) {
          throw this.problem(`cannot cut the torn end of ${name}`, e);
        }
        bytes = goodEnd;
      }
      this.segments.push({ file, bytes, entries });
      this.totalBytes += bytes;
      this.totalEntries += entries.length;
      if (newest && bytes < this.segmentBytes) {
        try {
          this.active = { segment: this.segments[this.segments.length - 1], fd: fs.openSync(file, 'r+') };
        } catch (e) {
          throw this.problem(`cannot open ${name} for writing`, e);
        }
      }
    }
    this.nextSeq = maxSeq + 1;
  }

  private readAck(): number {
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.dir, ACK_FILE), 'latin1');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw this.problem(`cannot read ${ACK_FILE}`, e);
    }
    // Anything else (emptied by a power cut under 'never'): nothing counts as delivered, all is sent again.
    const m = /^(\d{1,16})\n$/.exec(text);
    const seq = m ? Number(m[1]) : 0;
    return Number.isSafeInteger(seq) ? seq : 0;
  }

  // ---- segments ------------------------------------------------------------

  private startSegment(seq: number): void {
    const file = path.join(this.dir, `${String(seq).padStart(20, '0')}.seg`);
    let fd: number;
    try {
      fd = fs.openSync(file, 'wx+', 0o600); // read too: peek reads the active segment through it
    } catch (e) {
      throw this.problem(`cannot create ${path.basename(file)}`, e);
    }
    const segment: Segment = { file, bytes: 0, entries: [] };
    this.segments.push(segment);
    this.active = { segment, fd };
    this.dirDirty = true;
  }

  /** The next append starts a new segment (one not synced yet stays in dirtyFiles: the sync opens it by name). */
  private closeActive(): void {
    fs.closeSync(this.active!.fd);
    this.active = undefined;
  }

  /** Unlinks a segment before its records are all acked (the bound; its file gone), counting what it held that was not. */
  private drop(segment: Segment): void {
    const unacked = segment.entries.slice(countAtMost(segment.entries, this.ackedSeq));
    this.counters.droppedRecords += unacked.length;
    for (const e of unacked) this.counters.droppedWeight += e.weight;
    this.counters.droppedSegments++;
    this.remove(segment);
  }

  private remove(segment: Segment): void {
    this.segments.splice(this.segments.indexOf(segment), 1);
    this.totalBytes -= segment.bytes;
    this.totalEntries -= segment.entries.length;
    if (this.active?.segment === segment) {
      fs.closeSync(this.active.fd);
      this.active = undefined;
    }
    this.dirtyFiles.delete(segment.file); // going: no need to sync it
    this.unlinkQuietly(segment.file);
  }

  /** After a failed write: cut the segment back to its last whole record, or give it up so the next append starts a new one. */
  private undoWrite(): void {
    const { segment, fd } = this.active!;
    try {
      fs.ftruncateSync(fd, segment.bytes);
      if (segment.entries.length > 0) return;
    } catch {
      // Left as it is: open() finds and skips the partial record.
    }
    this.active = undefined;
    fs.closeSync(fd);
    if (segment.entries.length === 0) {
      this.segments.splice(this.segments.indexOf(segment), 1);
      this.dirtyFiles.delete(segment.file);
      this.unlinkQuietly(segment.file);
    }
  }

  /** An fd to read the segment, or undefined when its file has gone (counted as dropped). */
  private readFd(segment: Segment): number | undefined {
    if (this.active?.segment === segment) return this.active.fd;
    try {
      return fs.openSync(segment.file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw this.problem(`cannot open ${path.basename(segment.file)}`, e);
    }
    this.drop(segment);
    return undefined;
  }

  /** The payload, or undefined when the record on disk no longer matches (header or CRC). */
  private readRecord(segment: Segment, fd: number, entry: Entry): Buffer | undefined {
    const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
    const data = Buffer.allocUnsafe(entry.length);
    let got: number;
    try {
      got = fs.readvSync(fd, [header, data], entry.offset);
      while (got < RECORD_HEADER_BYTES + entry.length && got >= RECORD_HEADER_BYTES) {
        const n = fs.readSync(fd, data, got - RECORD_HEADER_BYTES, entry.length - (got - RECORD_HEADER_BYTES), entry.offset + got);
        if (n === 0) break;
        got += n;
      }
    } catch (e) {
      throw this.problem(`cannot read ${path.basename(segment.file)}`, e);
    }
    if (got < RECORD_HEADER_BYTES + entry.length) return undefined;
    const h = readHeader(header, 0);
    if (!h || h.seq !== entry.seq || h.length !== entry.length || crc32c(data) !== h.crc) return undefined;
    return data;
  }

  private firstUnacked(): Entry | undefined {
    for (const segment of this.segments) {
      const i = countAtMost(segment.entries, this.ackedSeq);
      if (i < segment.entries.length) return segment.entries[i];
    }
    return undefined;
  }

  // ---- the ack file and syncing -----------------------------------------------

  private writeAck(seq: number): void {
    const tmp = path.join(this.dir, ACK_TMP_FILE);
    try {
      const fd = fs.openSync(tmp, 'w', 0o600);
      try {
        fs.writeSync(fd, `${seq}\n`, 0, 'latin1');
        if (this.fsyncPolicy === 'always') fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, path.join(this.dir, ACK_FILE));
    } catch (e) {
      throw this.problem(`cannot write ${ACK_FILE}`, e);
    }
    if (this.fsyncPolicy === 'always') {
      this.dirDirty = true;
      this.syncNow();
    } else if (this.fsyncPolicy === 'interval') {
      this.ackDirty = true;
      this.dirDirty = true;
      this.scheduleSync();
    }
  }

  /** 'interval': a sync now when the last one started syncIntervalMs ago, else one when it will have; never two at once. */
  private scheduleSync(): void {
    if (this.syncing || this.syncTimer) return; // the running sync looks again when it ends; the timer will
    const wait = this.syncIntervalMs - (performance.now() - this.lastSyncMs);
    if (wait <= 0) {
      this.syncInBackground();
      return;
    }
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      if (!this.closed) this.syncInBackground();
    }, wait);
    this.syncTimer.unref();
  }

  private syncInBackground(): void {
    this.lastSyncMs = performance.now();
    const pending = this.takePending();
    this.syncing = pending;
    void flushLater(pending)
      .catch((e: unknown) => {
        if (!this.closed) this.syncError ??= this.syncProblem(e);
      })
      .finally(() => {
        this.syncing = undefined;
        if (!this.closed && (this.dirtyFiles.size > 0 || this.ackDirty || this.dirDirty)) this.scheduleSync();
      });
  }

  /** Syncs on the calling thread what is pending (and `also`); throws HT_ERR_DATA_DIR naming the file that failed. */
  private syncNow(also?: PendingFlush): void {
    this.lastSyncMs = performance.now();
    const pending = also ? mergeFlushes(also, this.takePending()) : this.takePending();
    if (isEmpty(pending)) return;
    try {
      flushNow(pending);
    } catch (e) {
      throw this.syncProblem(e);
    }
  }

  /** What is to be synced, now taken: a write after this is in the next sync. */
  private takePending(): PendingFlush {
    const pending: PendingFlush = {
      files: [...this.dirtyFiles],
      ackFile: this.ackDirty ? path.join(this.dir, ACK_FILE) : undefined,
      dir: this.dirDirty ? this.dir : undefined,
    };
    this.dirtyFiles.clear();
    this.ackDirty = false;
    this.dirDirty = false;
    return pending;
  }

  private syncProblem(e: unknown): TracerError {
    return e instanceof FlushFailure ? this.problem(`cannot sync ${e.what}`, e.cause) : this.problem('cannot sync', e);
  }

  // ---- helpers ----------------------------------------------------------------

  private assertOpen(call: string): void {
    if (this.closed) throw new Error(`disk queue ${this.label}: ${call}() after close()`);
  }

  private unlinkQuietly(file: string): void {
    try {
      fs.unlinkSync(file);
    } catch {
      // Gone already, or cannot be removed: it is outside the queue's accounting either way (a leftover is unlinked at the next open).
    }
  }

  private problem(what: string, cause: unknown): TracerError {
    return new TracerError('HT_ERR_DATA_DIR', `${this.label}: ${what} (${errorText(cause)})`, { cause });
  }
}

/**
 * Every whole record of a segment file whose checksums hold, how many
 * damaged stretches were skipped, and the highest seq of a sound header
 * (a torn record's included: its seq is not given out again).
 */
function scanSegment(buf: Buffer): { entries: Entry[]; damaged: number; maxSeq: number } {
  const entries: Entry[] = [];
  let damaged = 0;
  let maxSeq = 0;
  let pos = 0;
  while (pos < buf.length) {
    const h = readHeader(buf, pos);
    if (!h) {
      // A damaged header, or a torn one at the end: its length cannot be trusted; resume at the next header that checks.
      damaged++;
      pos = findHeader(buf, pos + 1);
      continue;
    }
    maxSeq = Math.max(maxSeq, h.seq);
    const end = pos + RECORD_HEADER_BYTES + h.length;
    if (end > buf.length) {
      damaged++; // torn: the payload runs past the end of the file
      break;
    }
    if (crc32c(buf.subarray(pos + RECORD_HEADER_BYTES, end)) !== h.crc) {
      damaged++;
      pos = end;
      continue;
    }
    entries.push({ seq: h.seq, offset: pos, length: h.length, appendedAt: h.appendedAt, weight: h.weight });
    pos = end;
  }
  return { entries, damaged, maxSeq };
}

function readHeader(buf: Buffer, pos: number): Header | undefined {
  if (pos + RECORD_HEADER_BYTES > buf.length) return undefined;
  if (buf.readUInt32LE(pos) !== MAGIC) return undefined;
  if (crc32c(buf.subarray(pos, pos + HEADER_CRC_OFFSET)) !== buf.readUInt32LE(pos + HEADER_CRC_OFFSET)) return undefined;
  if (buf[pos + 4] !== VERSION || buf.readUInt16LE(pos + 6) !== RECORD_HEADER_BYTES) return undefined;
  const high = buf.readUInt32LE(pos + 20);
  if (high > 0x1fffff) return undefined; // beyond 2^53
  return {
    length: buf.readUInt32LE(pos + 8),
    crc: buf.readUInt32LE(pos + 12),
    seq: high * 0x1_0000_0000 + buf.readUInt32LE(pos + 16),
    appendedAt: buf.readDoubleLE(pos + 24),
    weight: buf.readUInt32LE(pos + 36),
  };
}

/** The offset of the next valid header at or after `from`, or buf.length. */
function findHeader(buf: Buffer, from: number): number {
  for (;;) {
    const i = buf.indexOf(MAGIC_BYTES, from);
    if (i < 0) return buf.length;
    if (readHeader(buf, i)) return i;
    from = i + 1;
  }
}

/** How many entries (sorted by seq) have a seq ≤ seq. */
function countAtMost(entries: Entry[], seq: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid].seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** pwritev of header and payload at `position`, until all of both is written. */
function writeAll(fd: number, header: Buffer, payload: Buffer, position: number): void {
  const total = header.length + payload.length;
  let written = fs.writevSync(fd, [header, payload], position);
  while (written < total) {
    written +=
      written < header.length
        ? fs.writevSync(fd, [header.subarray(written), payload], position + written)
        : fs.writeSync(fd, payload, written - header.length, total - written, position + written);
  }
}

function validateOptions(dir: string, o: DiskQueueOptions): void {
  const bad = (what: string): TracerError => new TracerError('HT_ERR_OPTION', `disk queue ${dir}: ${what}`);
  if (o.maxBytes !== undefined && !(o.maxBytes > 0 && Number.isFinite(o.maxBytes))) throw bad(`maxBytes must be a positive number of bytes (got ${o.maxBytes})`);
  if (o.segmentBytes !== undefined && !(o.segmentBytes > 0 && Number.isFinite(o.segmentBytes))) throw bad(`segmentBytes must be a positive number of bytes (got ${o.segmentBytes})`);
  if (o.syncIntervalMs !== undefined && !(o.syncIntervalMs >= 0 && Number.isFinite(o.syncIntervalMs))) throw bad(`syncIntervalMs must be a number of milliseconds, 0 or more (got ${o.syncIntervalMs})`);
  if (o.fsync !== undefined && o.fsync !== 'always' && o.fsync !== 'interval' && o.fsync !== 'never') throw bad(`fsync must be 'always', 'interval' or 'never' (got ${String(o.fsync)})`);
}

