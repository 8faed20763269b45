import { describe, expect, it } from 'vitest';
import { ModelvaultError, NotFoundError } from '../../../core/errors.js';
import { MlflowApiError, toMlflowError } from './mlflow-errors.js';

describe('toMlflowError', () => {
  it('maps core errors to MLflow codes and statuses', () => {
    expect(toMlflowError(new NotFoundError("no model 'a'"), 'r1')).toEqual({
      status: 404,
      body: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: "no model 'a'" },
      serverFault: false,
    });
    const exists = toMlflowError(new ModelvaultError('ALREADY_EXISTS', 'model a exists'), 'r');
    expect(exists.status).toBe(400);
    expect(exists.body.error_code).toBe('RESOURCE_ALREADY_EXISTS');
    const conflict = toMlflowError(new ModelvaultError('CONFLICT', 'x'), 'r');
    expect(conflict.status).toBe(400);
  });

  it('hides internals of server faults behind the request id', () => {
    const m = toMlflowError(new ModelvaultError('IO', 'EIO at /secret/path'), 'req-7');
    expect(m).toEqual({
      status: 500,
      body: { error_code: 'INTERNAL_ERROR', message: 'internal error (request req-7)' },
      serverFault: true,
    });
    expect(toMlflowError(new Error('boom /x'), 'q').body.message).not.toContain('/x');
  });

  it('words a missing parameter as MLflow does', () => {
    const m = toMlflowError(
      { validation: [{ keyword: 'required', params: { missingProperty: 'name' } }] },
      'r',
    );
    expect(m.status).toBe(400);
    expect(m.body.message).toMatch(/^Missing value for required parameter 'name'/);
  });

  it('keeps the code and status of MLflow-layer errors', () => {
    const m = toMlflowError(new MlflowApiError('INVALID_STATE', 'bad'), 'r');
    expect(m).toMatchObject({ status: 500, body: { error_code: 'INVALID_STATE' } });
  });
});
