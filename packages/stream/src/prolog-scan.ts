/** Where the prolog scan is. */
const enum Prolog {
  /** Between markup: only whitespace may stand here. */
  Text,
  /** Just after `<`. */
  AfterLt,
  /** Inside `<?…` (the XML declaration). */
  Pi,
  /** Inside `<?…`, just after a `?`. */
  PiQuestion,
  /** Inside the root start tag, outside quotes. */
  Tag,
  /** Inside a `'…'` attribute value of the root start tag. */
  TagSingle,
  /** Inside a `"…"` attribute value of the root start tag. */
  TagDouble,
  /** The root start tag ended (or markup saxes judges on its own began): nothing more to scan. */
  Done,
}

const LT = 0x3c;

/**
 * Before the stream header, saxes reports stray text only when the text run ends, which depends on
 * where chunks were cut; this finds it at the character itself so the verdict does not. It tracks
 * just enough of the prolog: `<?xml …?>`, then the header's start tag with its quoted attributes.
 */
export class PrologScan {
  private state: Prolog = Prolog.Text;

  /** True once the stream header's start tag has been passed: `scan` has nothing left to do. */
  get done(): boolean {
    return this.state === Prolog.Done;
  }

  reset(): void {
    this.state = Prolog.Text;
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
        case Prolog.Text:
          if (c === LT) state = Prolog.AfterLt;
          else if (!(c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d)) {
            this.state = Prolog.Done;
            return i;
          }
          break;
        case Prolog.AfterLt:
          state = c === 0x3f /* ? */ ? Prolog.Pi : c === 0x21 /* ! */ ? Prolog.Done : Prolog.Tag;
          break;
        case Prolog.Pi:
          if (c === 0x3f) state = Prolog.PiQuestion;
          break;
        case Prolog.PiQuestion:
          state = c === 0x3e ? Prolog.Text : c === 0x3f ? Prolog.PiQuestion : Prolog.Pi;
          break;
        case Prolog.Tag:
          if (c === 0x27) state = Prolog.TagSingle;
          else if (c === 0x22) state = Prolog.TagDouble;
          else if (c === 0x3e) state = Prolog.Done;
          break;
        case Prolog.TagSingle:
          if (c === 0x27) state = Prolog.Tag;
          break;
        case Prolog.TagDouble:
          if (c === 0x22) state = Prolog.Tag;
          break;
        default:
          this.state = state;
          return -1;
      }
    }
    this.state = state;
    return -1;
  }
}
