// Patterns for credentials that could reach a log line through a library's
// error message or a header echoed by mistake. Redaction is a second line of
// defence: code must not log secrets in the first place.
const PATTERNS: ReadonlyArray<[RegExp, string]> = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [redacted]'],
  [/\bmcpg_([a-z]+)_[A-Za-z0-9_-]+/g, 'mcpg_$1_[redacted]'],
  [/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[redacted-jwt]'],
  [/(\w+:\/\/)[^/\s:@]*:[^/\s@]*@/g, '$1[redacted]@'],
];

/** Removes anything that looks like a credential from a string meant for a log. */
export function redact(text: string): string {
  let out = text;
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/**
 * A loggable summary of an unknown thrown value: its name, code and redacted
 * message, never its stack.
 */
export function describeError(error: unknown): { name: string; code?: string; message: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      ...(typeof code === 'string' ? { code } : {}),
      message: redact(error.message).slice(0, 500),
    };
  }
  return { name: typeof error, message: redact(String(error)).slice(0, 500) };
}
