/** The fake LLM provider's script steps and request log (see server.ts). */
export interface Step {
  status?: number;
  headers?: Record<string, string>;
  delay_ms?: number;
  times?: number;
  body?: string;
  content?: string;
  json?: unknown;
  judge?: { score?: number; explanation?: string; omit?: string[] };
  /**
   * CFBench's judge format: "<checkpoint>\t<score>" per `<checkpoints>` paragraph, 1 unless the
   * checkpoint holds `[[fake:0]]`; a request holding `[[fake:garbled]]` gets prose instead.
   */
  cfbench?: Record<string, never>;
  /**
   * Answers whatever is asked, by the request's kind: judge verdicts (as `judge`, plus: a
   * constraint holding `[[fake:requires=WORD]]` scores 10 only if the response holds WORD),
   * CFBench, and the pipelines' prompts (by their prompt version), steered by markers in the
   * request text; see `pipelineAnswer` in server.ts.
   */
  auto?: Record<string, never>;
  finish_reason?: string;
  model?: string;
  /** The `usage` object answered (default: a quarter of the characters each way). */
  usage?: Record<string, unknown>;
}

export interface RecordedRequest {
  at: number;
  path: string;
  headers: Record<string, string | undefined>;
  body: unknown;
  /** The session's requests in flight when this one arrived, itself included. */
  in_flight: number;
}
