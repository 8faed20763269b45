/**
 * Turns the API's error responses back into the typed errors of `core/errors.ts`, so code
 * written against RegistryApi catches the same classes whether the registry is local or
 * remote (`catch (e) { if (e instanceof NotFoundError) … }`).
 */
import {
  AlreadyExistsError,
  ConflictError,
  CorruptionError,
  ERROR_CODES,
  type ErrorCode,
  InvalidArgumentError,
  IoError,
  LockedError,
  ModelvaultError,
  NotFoundError,
  PolicyViolationError,
  VerificationError,
} from '../core/errors.js';

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** The code an HTTP status means when a response carries none we know. */
function codeOfStatus(status: number): ErrorCode {
  for (const [code, v] of Object.entries(ERROR_CODES) as [ErrorCode, { http: number }][]) {
    if (v.http === status) return code;
  }
  if (status >= 500) return 'INTERNAL';
  return 'INVALID_ARGUMENT';
}

/** The typed error for `{code, message, details}`. */
export function errorFromBody(
  code: ErrorCode,
  message: string,
  details?: Record<string, unknown>,
): ModelvaultError {
  switch (code) {
    case 'INVALID_ARGUMENT':
      return new InvalidArgumentError(message, details);
    case 'NOT_FOUND':
      return new NotFoundError(message, details);
    case 'ALREADY_EXISTS':
      return new AlreadyExistsError(message, details);
    case 'CONFLICT':
      return new ConflictError(message, details);
    case 'CORRUPT':
      return new CorruptionError(message, details);
    case 'VERIFICATION_FAILED':
      return new VerificationError(message, details);
    case 'LOCKED':
      return new LockedError(message, details);
    case 'POLICY_VIOLATION':
      return new PolicyViolationError(message, details);
    case 'IO':
      return new IoError(message, details);
    default:
      return new ModelvaultError(code, message, details);
  }
}

/**
 * The error an unsuccessful response stands for: the typed error of its JSON body, or,
 * when the body is not ours (a proxy's HTML page), one derived from the status.
 */
export async function errorFromResponse(res: Response, what: string): Promise<ModelvaultError> {
  let text = '';
  try {
    text = await res.text();
  } catch {
    // The body could not be read: the status alone must do.
  }
  try {
    const body = JSON.parse(text) as {
      error?: { code?: unknown; message?: unknown; details?: unknown };
    };
    const e = body.error;
    if (e && typeof e.message === 'string') {
      const code = isErrorCode(e.code) ? e.code : codeOfStatus(res.status);
      const details =
        e.details && typeof e.details === 'object'
          ? (e.details as Record<string, unknown>)
          : undefined;
      return errorFromBody(code, e.message, withRetryAfter(details, res));
    }
  } catch {
    // Not JSON.
  }
  const requestId = res.headers.get('x-request-id') ?? undefined;
  return errorFromBody(
    codeOfStatus(res.status),
    `${what} failed: HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
    withRetryAfter({ status: res.status, ...(requestId ? { requestId } : {}) }, res),
  );
}

/**
 * `details` with `retryAfterSeconds` from a Retry-After header in seconds (a proxy's 503
 * carries no body of ours), unless the body already gave one.
 */
function withRetryAfter(
  details: Record<string, unknown> | undefined,
  res: Response,
): Record<string, unknown> | undefined {
  const header = res.headers.get('retry-after');
  if (details?.retryAfterSeconds !== undefined || header === null || !/^\d{1,6}$/.test(header)) {
    return details;
  }
  return { ...(details ?? {}), retryAfterSeconds: Number(header) };
}
