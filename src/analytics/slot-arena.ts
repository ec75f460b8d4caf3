/**
 * The sealed histogram buckets of one tier slot, for every series: their
 * records (sketch-codec.ts) end to end in one byte buffer, and where each
 * series' record starts, by series number. One buffer per slot rather than
 * per series and slot: a small ArrayBuffer costs some 100 bytes outside its
 * values, a JS object per bucket more.
 *
 * Every record of a slot goes when its bucket does (clear()), so the space
 * is reused whole, never freed piece by piece: the buffer keeps its capacity
 * for the next bucket that takes the slot. A record replaced (its bucket took
 * a late value) leaves its bytes behind until then.
 */
import type { DistributionData } from './distribution';
import { maxRecordBytes, RecordView, writeRecord } from './sketch-codec';

/** Where no record is. */
const NONE = -1;

/** Where a record is written before it is copied in. */
let scratch = new Uint8Array(4096);

export class SlotArena {
  /** The records, [0, used). */
  bytes: Uint8Array = new Uint8Array(0);
  used = 0;
  /** Records held (not counting replaced ones). */
  records = 0;
  /** Per series number: where its record starts, or NONE. */
  private starts = new Int32Array(0);

  /** Where series `id`'s record starts, or -1 when it has none. */
  recordOf(id: number): number {
    return id < this.starts.length ? this.starts[id] : NONE;
  }

  /** Writes series `id`'s record (it must have none: drop() a replaced one first). */
  seal(id: number, d: DistributionData): void {
    if (this.recordOf(id) !== NONE) throw new Error(`slot-arena: series ${id} already has a record here`);
    // Written aside first: the buffer grows by what the record takes, not by what it could.
    if (maxRecordBytes(d) > scratch.length) scratch = new Uint8Array(Math.max(maxRecordBytes(d), 2 * scratch.length));
    const length = writeRecord(d, scratch, 0);
    if (this.used + length > this.bytes.length) this.resize(Math.max(this.used + length, Math.ceil(this.bytes.length * 1.25)));
    if (id >= this.starts.length) {
      const grown = new Int32Array(Math.max(id + 1, this.starts.length * 2, 64)).fill(NONE);
      grown.set(this.starts);
      this.starts = grown;
    }
    this.bytes.set(scratch.subarray(0, length), this.used);
    this.starts[id] = this.used;
    this.used += length;
    this.records++;
  }

  /** Series `id`'s record stops counting (its bytes stay until clear()). */
  drop(id: number): void {
    if (this.recordOf(id) === NONE) return;
    this.starts[id] = NONE;
    this.records--;
  }

  /** Reads series `id`'s record into `view`; false when it has none. */
  read(id: number, view: RecordView): boolean {
    const at = this.recordOf(id);
    if (at === NONE) return false;
    view.read(this.bytes, at);
    return true;
  }

  /** The bucket is gone: every record goes, the space stays for the next one. */
  clear(): void {
    this.used = 0;
    this.records = 0;
    this.starts.fill(NONE);
  }

  /** Gives back the spare room, when more than a 32nd of what is used (after a slot's records are written, few more come). */
  trim(): void {
    if (this.bytes.length > this.used + (this.used >> 5) + 64) this.resize(this.used);
  }

  private resize(capacity: number): void {
    const next = new Uint8Array(capacity);
    next.set(this.bytes.subarray(0, this.used));
    this.bytes = next;
  }
}
