/**
 * The UI's way to the MLflow side of the server: MLflow's own REST API under
 * `/ajax-api/2.0/` (the prefix MLflow's web UI calls; docs/mlflow.md), so the experiments
 * and runs pages use exactly what MLflow clients use. Errors come back as MlflowError
 * with MLflow's `error_code` (RESOURCE_DOES_NOT_EXIST, INVALID_PARAMETER_VALUE…), which
 * errorText() shows beside the message.
 */

const BASE = '/ajax-api/2.0';

export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

export interface Experiment {
  readonly experiment_id: string;
  readonly name: string;
  readonly artifact_location?: string;
  readonly lifecycle_stage: string;
  readonly last_update_time?: number;
  readonly creation_time?: number;
  readonly tags?: readonly KeyValue[];
}

export interface RunMetric {
  readonly key: string;
  /** MLflow writes NaN and infinities as strings. */
  readonly value: number | string;
  readonly timestamp: number;
  readonly step: number;
}

export interface Run {
  readonly info: {
    readonly run_id: string;
    readonly run_name: string;
    readonly experiment_id: string;
    readonly user_id: string;
    readonly status: string;
    readonly start_time: number;
    readonly end_time?: number;
    readonly artifact_uri: string;
    readonly lifecycle_stage: string;
  };
  readonly data: {
    readonly metrics?: readonly RunMetric[];
    readonly params?: readonly KeyValue[];
    readonly tags?: readonly KeyValue[];
  };
  readonly inputs?: {
    readonly dataset_inputs?: readonly {
      readonly dataset: { readonly name: string; readonly digest: string; readonly source: string };
    }[];
  };
}

/** One page of runs/search. */
export interface RunsPage {
  readonly runs: readonly Run[];
  /** Absent on the last page. */
  readonly nextPageToken?: string;
}

export interface ArtifactFile {
  readonly path: string;
  readonly is_dir: boolean;
  readonly file_size?: number;
}

export interface MlflowModelVersion {
  readonly name: string;
  readonly version: string;
  readonly source: string;
  readonly run_id?: string;
}

/** An MLflow API error: `{error_code, message}` and the HTTP status. */
export class MlflowError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'MlflowError';
  }
}

type Query = Readonly<Record<string, string | number | undefined>>;

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  let url = `${BASE}/${path}`;
  const init: RequestInit = { method, headers: { accept: 'application/json' } };
  if (method === 'GET' && body) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(body as Query)) if (v !== undefined) q.set(k, String(v));
    url += `?${q}`;
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { ...init.headers, 'content-type': 'application/json' };
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let json: unknown = {};
  try {
    json = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new MlflowError('INTERNAL_ERROR', `${res.status} ${text.slice(0, 200)}`, res.status);
  }
  if (!res.ok) {
    const e = json as { error_code?: string; message?: string };
    throw new MlflowError(
      e.error_code ?? 'INTERNAL_ERROR',
      e.message ?? `HTTP ${res.status}`,
      res.status,
    );
  }
  return json as T;
}

/** Every page of a paged MLflow listing, up to `limit` items. */
async function allPages<T>(
  fetchPage: (token: string | undefined) => Promise<{ items: T[]; next?: string }>,
  limit: number,
): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const page = await fetchPage(token);
    out.push(...page.items);
    token = page.next;
  } while (token && out.length < limit);
  return out.slice(0, limit);
}

export const mlflow = {
  async searchExperiments(filter?: string): Promise<Experiment[]> {
    return allPages(async (page_token) => {
      const r = await call<{ experiments?: Experiment[]; next_page_token?: string }>(
        'POST',
        'mlflow/experiments/search',
        { max_results: 1000, order_by: ['name ASC'], ...(filter ? { filter } : {}), page_token },
      );
      return {
        items: r.experiments ?? [],
        ...(r.next_page_token ? { next: r.next_page_token } : {}),
      };
    }, 50_000);
  },

  async getExperiment(id: string): Promise<Experiment> {
    return (
      await call<{ experiment: Experiment }>('GET', 'mlflow/experiments/get', { experiment_id: id })
    ).experiment;
  },

  /**
   * One page of an experiment's runs, filtered and ordered by the server (MLflow's syntax),
   * `pageSize` runs at most; `nextPageToken` is absent on the last page. MLflow has no
   * count, so a caller knows only what it loaded and whether more follow.
   */
  async searchRunsPage(
    experimentId: string,
    options: {
      filter?: string;
      orderBy?: readonly string[];
      pageSize: number;
      pageToken?: string | undefined;
    },
  ): Promise<RunsPage> {
    const r = await call<{ runs?: Run[]; next_page_token?: string }>('POST', 'mlflow/runs/search', {
      experiment_ids: [experimentId],
      max_results: options.pageSize,
      ...(options.filter ? { filter: options.filter } : {}),
      ...(options.orderBy && options.orderBy.length > 0 ? { order_by: options.orderBy } : {}),
      ...(options.pageToken ? { page_token: options.pageToken } : {}),
    });
    return {
      runs: r.runs ?? [],
      ...(r.next_page_token ? { nextPageToken: r.next_page_token } : {}),
    };
  },

  async getRun(runId: string): Promise<Run> {
    return (await call<{ run: Run }>('GET', 'mlflow/runs/get', { run_id: runId })).run;
  },

  /** A metric's whole history, fetched page by page (metrics/get-history). */
  async metricHistory(runId: string, key: string): Promise<RunMetric[]> {
    return allPages(async (page_token) => {
      const r = await call<{ metrics?: RunMetric[]; next_page_token?: string }>(
        'GET',
        'mlflow/metrics/get-history',
        { run_id: runId, metric_key: key, page_token },
      );
      return { items: r.metrics ?? [], ...(r.next_page_token ? { next: r.next_page_token } : {}) };
    }, 1_000_000);
  },

  /** A run's artifacts directly under `path` (relative to its artifact root). */
  async listArtifacts(runId: string, path: string): Promise<ArtifactFile[]> {
    const r = await call<{ files?: ArtifactFile[] }>('GET', 'mlflow/artifacts/list', {
      run_id: runId,
      ...(path ? { path } : {}),
    });
    return r.files ?? [];
  },

  async getRegisteredModel(name: string): Promise<{ name: string } | null> {
    try {
      return (
        await call<{ registered_model: { name: string } }>('GET', 'mlflow/registered-models/get', {
          name,
        })
      ).registered_model;
    } catch (e) {
      if (e instanceof MlflowError && e.code === 'RESOURCE_DOES_NOT_EXIST') return null;
      throw e;
    }
  },

  async createRegisteredModel(name: string): Promise<void> {
    await call('POST', 'mlflow/registered-models/create', { name });
  },

  async createModelVersion(input: {
    name: string;
    source: string;
    runId: string;
    description?: string;
  }): Promise<MlflowModelVersion> {
    return (
      await call<{ model_version: MlflowModelVersion }>('POST', 'mlflow/model-versions/create', {
        name: input.name,
        source: input.source,
        run_id: input.runId,
        ...(input.description ? { description: input.description } : {}),
      })
    ).model_version;
  },
};

export const mlflowKeys = {
  experiments: ['mlflow', 'experiments'] as const,
  experiment: (id: string) => ['mlflow', 'experiment', id] as const,
  runs: (id: string) => ['mlflow', 'experiment', id, 'runs'] as const,
  run: (runId: string) => ['mlflow', 'run', runId] as const,
};
