/**
 * Typed errors shared by every layer. Each error carries a stable `code` (the one table
 * below maps codes to HTTP statuses and CLI exit codes), a lowercase message naming the
 * ids involved, and optional structured `details`. Lower layers throw these; each layer
 * boundary translates foreign errors (fs, sqlite, http) into them.
 */

export const ERROR_CODES = {
  INVALID_ARGUMENT: { http: 400, exit: 2 },
  NOT_FOUND: { http: 404, exit: 3 },
  ALREADY_EXISTS: { http: 409, exit: 1 },
  CONFLICT: { http: 409, exit: 1 },
  PRECONDITION_FAILED: { http: 412, exit: 1 },
  /** Stored data does not match its digest, or a structure is unreadable. */
  CORRUPT: { http: 500, exit: 4 },
  /** A signature, digest or audit chain check failed. */
  VERIFICATION_FAILED: { http: 422, exit: 4 },
  LOCKED: { http: 423, exit: 1 },
  UNAUTHENTICATED: { http: 401, exit: 1 },
  PERMISSION_DENIED: { http: 403, exit: 1 },
  /** Too many failed sign-ins: wait for the time in `details.retryAfterSeconds`. */
  RATE_LIMITED: { http: 429, exit: 1 },
  /** A promotion policy refused moving an alias or a stage; details list the failed rules. */
  POLICY_VIOLATION: { http: 409, exit: 5 },
  TOO_LARGE: { http: 413, exit: 2 },
  /** An HTTP Range that lies outside the resource (RFC 9110 §15.5.17). */
  RANGE_NOT_SATISFIABLE: { http: 416, exit: 2 },
  UNSUPPORTED: { http: 501, exit: 1 },
  UNAVAILABLE: { http: 503, exit: 1 },
  IO: { http: 500, exit: 1 },
  INTERNAL: { http: 500, exit: 1 },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ModelvaultError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: { ...this.details } };
  }
}

export class InvalidArgumentError extends ModelvaultError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('INVALID_ARGUMENT', message, details);
  }
}

export class NotFoundError extends ModelvaultError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('NOT_FOUND', message, details);
  }
}

export class AlreadyExistsError extends ModelvaultError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('ALREADY_EXISTS', message, details);
  }
}

export class ConflictError extends ModelvaultError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('CONFLICT', message, details);
  }
}

/** Stored bytes or structures are damaged: `what` names the object (pack, chunk, file…). */
export class CorruptionError extends ModelvaultError {
  constructor(message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('CORRUPT', message, details, options);
  }
}

export class VerificationError extends ModelvaultError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('VERIFICATION_FAILED', message, details);
  }
}

/**
 * A promotion (an alias move, a stage transition) that the policy for its target refuses.
 * `details.failed` lists every rule that failed: `{rule, message}`.
 */
export class PolicyViolationError extends ModelvaultError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('POLICY_VIOLATION', message, details);
  }
}

export class LockedError extends ModelvaultError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('LOCKED', message, details);
  }
}

/** No valid credentials (HTTP 401). */
export class UnauthenticatedError extends ModelvaultError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('UNAUTHENTICATED', message, details);
  }
}

/** Valid credentials without the permission the operation needs (HTTP 403). */
export class PermissionDeniedError extends ModelvaultError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('PERMISSION_DENIED', message, details);
  }
}

export class IoError extends ModelvaultError {
  constructor(message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('IO', message, details, options);
  }
}

export function isModelvaultError(e: unknown): e is ModelvaultError {
  return e instanceof ModelvaultError;
}

/** True for a Node system error with the given errno code (ENOENT, EEXIST, …). */
export function hasErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}
