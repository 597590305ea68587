// Where the prolog scan is. Plain numbers, not an enum: the states are only compared with each
// other, and a compiled enum's member names are strings nobody reads.
/** Between markup: only whitespace may stand here. */
const TEXT = 0;
/** Just after `<`. */
const AFTER_LT = 1;
/** Inside `<?…` (the XML declaration). */
const PI = 2;
/** Inside `<?…`, just after a `?`. */
const PI_QUESTION = 3;
/** The root's `<` (or a `<!`, which saxes judges on its own) was reached: nothing more to scan. */
const DONE = 4;

const LT = 0x3c;
const QUESTION = 0x3f;

/**
 * Before the stream header, saxes reports stray text only when the text run ends, which depends on
 * where chunks were cut; this finds it at the character itself so the verdict does not. It tracks
 * just enough of the prolog: whitespace and `<?xml …?>`. From the `<` of anything else on it has
 * nothing to find — the root's start tag is saxes' to judge, and once it is open, text between
 * stanzas is the parser's `seek()` to refuse — so it stops there, quotes and all unread.
 */
export class PrologScan {
  private state = TEXT;

  /** True once the scan has reached the root (or other markup saxes judges): `scan` has nothing left to do. */
  get done(): boolean {
    return this.state === DONE;
  }

  reset(): void {
    this.state = TEXT;
  }

  /**
   * Scans the next decoded characters of the prolog.
   * @returns the index in `s` of the first stray character, or -1
   */
  scan(s: string): number {
    let state = this.state;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      switch (state) {
        case TEXT:
          if (c === LT) state = AFTER_LT;
          else if (!(c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d)) {
            this.state = DONE;
            return i;
          }
          break;
        case AFTER_LT:
          if (c !== QUESTION) {
            this.state = DONE;
            return -1;
          }
          state = PI;
          break;
        case PI:
          if (c === QUESTION) state = PI_QUESTION;
          break;
        case PI_QUESTION:
          state = c === 0x3e ? TEXT : c === QUESTION ? PI_QUESTION : PI;
          break;
      }
    }
    this.state = state;
    return -1;
  }
}
