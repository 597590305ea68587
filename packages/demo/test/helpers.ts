/** A fake terminal or log: collects what the demo writes. */
export class Collect {
  text = '';
  readonly isTTY: boolean;
  readonly columns: number | undefined;

  constructor(tty = false, columns?: number) {
    this.isTTY = tty;
    this.columns = columns;
  }

  write(s: string): boolean {
    this.text += s;
    return true;
  }
}
