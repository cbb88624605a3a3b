/**
 * Python's `list(csv.reader(io.StringIO(text), delimiter=...))` for the default ("excel") dialect:
 * `"` quotes, doubled quotes inside quotes, no escape character, not strict. Lines are what
 * `io.StringIO` yields (split after each "\n"); a blank line is the empty row `[]`; a field left
 * open in quotes at the end of the text is kept. The one input Python rejects (a "\r" followed by
 * more text outside quotes) is reported as an error.
 */
export type CsvResult = { ok: true; rows: string[][] } | { ok: false; error: string };

enum State {
  StartRecord,
  StartField,
  InField,
  InQuotedField,
  QuoteInQuotedField,
  EatCrnl,
}

const EOL = "";

export function parseCsv(text: string, delimiter = ","): CsvResult {
  const rows: string[][] = [];
  let state = State.StartRecord;
  let fields: string[] = [];
  let field = "";
  let fieldLen = 0;
  const save = () => {
    fields.push(field);
    field = "";
    fieldLen = 0;
  };
  const add = (c: string) => {
    field += c;
    fieldLen++;
  };
  const isNewline = (c: string) => c === "\n" || c === "\r";

  const startField = (c: string): null => {
    if (isNewline(c) || c === EOL) {
      save();
      state = c === EOL ? State.StartRecord : State.EatCrnl;
    } else if (c === '"') state = State.InQuotedField;
    else if (c === delimiter) save();
    else {
      add(c);
      state = State.InField;
    }
    return null;
  };

  const process = (c: string): string | null => {
    switch (state) {
      case State.StartRecord:
        if (c === EOL) return null;
        if (isNewline(c)) {
          state = State.EatCrnl;
          return null;
        }
        state = State.StartField;
        return startField(c);
      case State.StartField:
        return startField(c);
      case State.InField:
        if (isNewline(c) || c === EOL) {
          save();
          state = c === EOL ? State.StartRecord : State.EatCrnl;
        } else if (c === delimiter) {
          save();
          state = State.StartField;
        } else add(c);
        return null;
      case State.InQuotedField:
        if (c === EOL) return null;
        if (c === '"') state = State.QuoteInQuotedField;
        else add(c);
        return null;
      case State.QuoteInQuotedField:
        if (c === '"') {
          add(c);
          state = State.InQuotedField;
        } else if (c === delimiter) {
          save();
          state = State.StartField;
        } else if (isNewline(c) || c === EOL) {
          save();
          state = c === EOL ? State.StartRecord : State.EatCrnl;
        } else {
          add(c);
          state = State.InField;
        }
        return null;
      case State.EatCrnl:
        if (isNewline(c)) return null;
        if (c === EOL) {
          state = State.StartRecord;
          return null;
        }
        return "new-line character seen in unquoted field";
    }
  };

  // io.StringIO iterates lines ending after each "\n".
  let lineStart = 0;
  while (lineStart < text.length) {
    const newline = text.indexOf("\n", lineStart);
    const lineEnd = newline === -1 ? text.length : newline + 1;
    for (let i = lineStart; i < lineEnd; i++) {
      const error = process(text[i]!);
      if (error) return { ok: false, error };
    }
    const error = process(EOL);
    if (error) return { ok: false, error };
    lineStart = lineEnd;
    if (state === State.StartRecord) {
      rows.push(fields);
      fields = [];
    }
  }
  if (state !== State.StartRecord && (fieldLen !== 0 || state === State.InQuotedField)) {
    save();
    rows.push(fields);
  }
  return { ok: true, rows };
}
