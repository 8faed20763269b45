/**
 * MLflow's error shape for the MLflow-compatible API: `{"error_code": "…", "message": "…"}`
 * with the HTTP status MLflow itself uses for that code (mlflow/exceptions.py
 * ERROR_CODE_TO_HTTP_STATUS). MLflow's clients pick their exception class from
 * `error_code` and retry 5xx answers, so a client mistake must never map to a 5xx.
 *
 * Our own errors (core/errors.ts) are translated by code; Fastify's validation errors
 * become INVALID_PARAMETER_VALUE with MLflow's wording for a missing parameter; anything
 * else is INTERNAL_ERROR naming only the request id.
 */
import { type ErrorCode, ModelvaultError } from '../../../core/errors.js';

/** MLflow's error codes (databricks.proto ErrorCode) and their HTTP statuses. */
export const MLFLOW_ERROR_STATUS = {
  INTERNAL_ERROR: 500,
  INVALID_STATE: 500,
  DATA_LOSS: 500,
  NOT_IMPLEMENTED: 501,
  TEMPORARILY_UNAVAILABLE: 503,
  REQUEST_LIMIT_EXCEEDED: 429,
  RESOURCE_EXHAUSTED: 429,
  RESOURCE_CONFLICT: 409,
  ENDPOINT_NOT_FOUND: 404,
  RESOURCE_DOES_NOT_EXIST: 404,
  PERMISSION_DENIED: 403,
  UNAUTHENTICATED: 401,
  BAD_REQUEST: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  INVALID_PARAMETER_VALUE: 400,
} as const;

export type MlflowErrorCode = keyof typeof MLFLOW_ERROR_STATUS;

export interface MlflowErrorBody {
  readonly error_code: MlflowErrorCode;
  readonly message: string;
}

/**
 * An error raised by the MLflow layer itself when MLflow's semantics need a code that our
 * core errors do not express one for one (e.g. "run must be active").
 */
export class MlflowApiError extends Error {
  constructor(
    readonly errorCode: MlflowErrorCode,
    message: string,
    /** Overrides the code's usual status (e.g. 416 for a bad artifact Range). */
    readonly status: number = MLFLOW_ERROR_STATUS[errorCode],
  ) {
    super(message);
    this.name = 'MlflowApiError';
  }
}

/** Our codes → MLflow's. Conflicts are client mistakes in MLflow's vocabulary (400). */
const FROM_CORE: Record<ErrorCode, MlflowErrorCode> = {
  INVALID_ARGUMENT: 'INVALID_PARAMETER_VALUE',
  NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  ALREADY_EXISTS: 'RESOURCE_ALREADY_EXISTS',
  CONFLICT: 'INVALID_PARAMETER_VALUE',
  PRECONDITION_FAILED: 'INVALID_PARAMETER_VALUE',
  CORRUPT: 'DATA_LOSS',
  VERIFICATION_FAILED: 'DATA_LOSS',
  LOCKED: 'TEMPORARILY_UNAVAILABLE',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  RATE_LIMITED: 'RESOURCE_EXHAUSTED',
  POLICY_VIOLATION: 'RESOURCE_CONFLICT',
  TOO_LARGE: 'INVALID_PARAMETER_VALUE',
  RANGE_NOT_SATISFIABLE: 'INVALID_PARAMETER_VALUE',
  UNSUPPORTED: 'NOT_IMPLEMENTED',
  UNAVAILABLE: 'TEMPORARILY_UNAVAILABLE',
  IO: 'INTERNAL_ERROR',
  INTERNAL: 'INTERNAL_ERROR',
};

/** Statuses that differ from the MLflow code's usual one. */
const STATUS_OVERRIDE: Partial<Record<ErrorCode, number>> = {
  TOO_LARGE: 413,
  RANGE_NOT_SATISFIABLE: 416,
};

/** Codes whose messages may carry server paths or internals: replaced by a generic text. */
const OPAQUE: ReadonlySet<ErrorCode> = new Set(['IO', 'INTERNAL', 'CORRUPT']);

export interface MlflowHttpError {
  readonly status: number;
  readonly body: MlflowErrorBody;
  /** True when the cause is a server fault worth logging at error level. */
  readonly serverFault: boolean;
}

interface FastifyLikeError {
  readonly statusCode?: number;
  readonly message?: string;
  readonly validation?: readonly {
    readonly instancePath?: string;
    readonly message?: string;
    readonly keyword?: string;
    readonly params?: Record<string, unknown>;
  }[];
}

function answer(code: MlflowErrorCode, message: string, status?: number): MlflowHttpError {
  const s = status ?? MLFLOW_ERROR_STATUS[code];
  return { status: s, body: { error_code: code, message }, serverFault: s >= 500 };
}

/** Translates any error raised while serving an MLflow route into MLflow's shape. */
export function toMlflowError(error: unknown, requestId: string): MlflowHttpError {
  if (error instanceof MlflowApiError) return answer(error.errorCode, error.message, error.status);
  if (error instanceof ModelvaultError) {
    const code = FROM_CORE[error.code];
    if (OPAQUE.has(error.code)) {
      return answer(code, `internal error (request ${requestId})`);
    }
    return answer(code, error.message, STATUS_OVERRIDE[error.code]);
  }
  const e = (error ?? {}) as FastifyLikeError;
  if (Array.isArray(e.validation) && e.validation.length > 0) {
    const v = e.validation[0]!;
    if (v.keyword === 'required' && typeof v.params?.missingProperty === 'string') {
      return answer(
        'INVALID_PARAMETER_VALUE',
        `Missing value for required parameter '${v.params.missingProperty}'. See the API docs for more information about request parameters.`,
      );
    }
    const field = (v.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.') || 'request';
    return answer(
      'INVALID_PARAMETER_VALUE',
      `Invalid value for parameter '${field}': ${v.message ?? 'is invalid'}`,
    );
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status === 413) return answer('INVALID_PARAMETER_VALUE', 'request body is too large', 413);
  if (status === 404) return answer('ENDPOINT_NOT_FOUND', e.message ?? 'not found');
  if (status >= 400 && status < 500) {
    // Fastify's messages for malformed bodies and media types are safe and useful.
    return answer('BAD_REQUEST', e.message ?? 'bad request', status);
  }
  return answer('INTERNAL_ERROR', `internal error (request ${requestId})`);
}
