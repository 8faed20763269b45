/**
 * Unsafe-pickle scans of versions. `scan` reads a manifest's pickle-based files from the
 * store (streamed, see formats/scan-file.ts) before the version is created; `record`
 * stores the result in the version's creation transaction, so a version is never visible
 * without its scan. A file already scanned by the same scanner (same SHA-256) is not read
 * again: its stored report is reused. A dangerous file is flagged, never refused.
 */
import { CompiledQuery, type Kysely } from 'kysely';
import type { Sha256Hex } from '../core/digest.js';
import type { FileScan, FileScanReport, ScanSummary, VersionScan } from '../core/registry-api.js';
import { worstVerdict } from '../formats/pickle-scan.js';
import { mayHoldPickles, scanFile } from '../formats/scan-file.js';
import { constantStatement } from '../metadata/constant-statements.js';
import { executeCompiled, prepareQuery } from '../metadata/prepared-query.js';
import type { RegistryDB } from '../metadata/schema.js';
import type { ContentStore, ManifestEntry } from '../storage/content-store.js';
import { resolveVersion } from './lookups.js';
import type { RegistryContext } from './registry-context.js';

/** Scanner id and rules version: bump when the lists or the reader change meaningfully. */
export const SCANNER_ID = 'modelvault-pickle-scan/1';

/** A scan taken before its version exists. */
export interface PendingScan {
  readonly verdict: ScanSummary['verdict'];
  readonly files: readonly FileScan[];
}

/** `record`'s and `reusable`'s statements, compiled once (prepared-query.ts): they run in every version's creation. */
const Q = {
  insertScan: prepareQuery(
    (
      db: Kysely<RegistryDB>,
      p: { version_id: number; verdict: string; scanned_at: number; files: number },
    ) =>
      db.insertInto('version_scans').values({
        version_id: p.version_id,
        verdict: p.verdict,
        scanner: SCANNER_ID,
        scanned_at: p.scanned_at,
        files: p.files,
      }),
  ),
  insertFile: prepareQuery(
    (
      db: Kysely<RegistryDB>,
      p: { version_id: number; path: string; sha256: string; verdict: string; report: string },
    ) =>
      db.insertInto('version_scan_files').values({
        version_id: p.version_id,
        path: p.path,
        sha256: p.sha256,
        verdict: p.verdict,
        scanner: SCANNER_ID,
        report: p.report,
      }),
  ),
  /** A report of this scanner for these bytes, from any version (`reusable`). */
  reportOf: prepareQuery((db: Kysely<RegistryDB>, p: { sha256: string }) =>
    db
      .selectFrom('version_scan_files')
      .select('report')
      .where('sha256', '=', p.sha256)
      .where('scanner', '=', SCANNER_ID)
      .limit(1),
  ),
};

/** What a read of the version shows of `scan` (dangerous paths in any order). */
function summaryOf(scan: PendingScan): ScanSummary {
  return {
    verdict: scan.verdict,
    files: scan.files.length,
    dangerous: scan.files.filter((f) => f.verdict === 'dangerous').map((f) => f.path),
  };
}

/**
 * recordIfStored's statement: `record`'s rows, each insert conditional on the manifest $1
 * being stored; one row, `stored`.
 */
const RECORD_IF_STORED = constantStatement(`with m as (
  select exists (select 1 from manifests where digest = $1::text) as stored
), s as (
  insert into version_scans (version_id, verdict, scanner, scanned_at, files)
  select $2::bigint, $3::text, $4::text, $5::bigint, $6::integer from m where m.stored
), f as (
  insert into version_scan_files (version_id, path, sha256, verdict, scanner, report)
  select $2::bigint, x.path, x.sha256, x.verdict, $4::text, x.report
  from m cross join unnest($7::text[], $8::text[], $9::text[], $10::text[])
    as x(path, sha256, verdict, report)
  where m.stored
)
select stored from m`);

export class ScanService {
  constructor(private readonly ctx: RegistryContext) {}

  /** Scans the pickle-based files among `entries`. Rethrows store errors (I/O, corruption). */
  async scan(content: ContentStore, entries: readonly ManifestEntry[]): Promise<PendingScan> {
    const files: FileScan[] = [];
    for (const e of entries) {
      if (!mayHoldPickles(e.path)) continue;
      const report =
        (await this.reusable(e.sha256)) ??
        (await scanFile(e.path, {
          size: e.size,
          stream: (range) => content.readFile(e.sha256 as Sha256Hex, range),
        }));
      if (report) files.push({ path: e.path, sha256: e.sha256, ...report });
    }
    return {
      verdict: files.length === 0 ? 'none' : worstVerdict(files.map((f) => f.verdict)),
      files,
    };
  }

  /**
   * Stores `scan` as version `versionId`'s, inside its creation transaction; returns the
   * version's scan summary as a read of the version gives it (dangerous paths in any order).
   */
  async record(
    trx: Kysely<RegistryDB>,
    versionId: number,
    scan: PendingScan,
    now: number,
  ): Promise<ScanSummary> {
    await Q.insertScan.run(trx, {
      version_id: versionId,
      verdict: scan.verdict,
      scanned_at: now,
      files: scan.files.length,
    });
    for (const f of scan.files) {
      const { path, sha256, ...report } = f;
      await Q.insertFile.run(trx, {
        version_id: versionId,
        path,
        sha256,
        verdict: f.verdict,
        report: JSON.stringify(report),
      });
    }
    return summaryOf(scan);
  }

  /**
   * PostgreSQL: `record` in one statement (its rows' lists unnested from one array a
   * column), written only when the manifest `digest` (hex) is stored — the check that
   * LocalRegistry makes in the version's transaction, in the same round trip. Returns
   * undefined, having written nothing, when it is not stored.
   */
  async recordIfStored(
    trx: Kysely<RegistryDB>,
    versionId: number,
    scan: PendingScan,
    now: number,
    digest: string,
  ): Promise<ScanSummary | undefined> {
    const files = scan.files;
    const reports = files.map(({ path: _p, sha256: _s, ...report }) => JSON.stringify(report));
    const { rows } = await executeCompiled(
      trx,
      CompiledQuery.raw(RECORD_IF_STORED, [
        digest,
        versionId,
        scan.verdict,
        SCANNER_ID,
        now,
        files.length,
        files.map((f) => f.path),
        files.map((f) => f.sha256),
        files.map((f) => f.verdict),
        reports,
      ]),
    );
    if (!(rows[0] as { stored: boolean }).stored) return undefined;
    return summaryOf(scan);
  }

  /** The version's scan, or null when it was not scanned. */
  async get(ref: string): Promise<VersionScan | null> {
    const db = this.ctx.database.db;
    const r = await resolveVersion(db, ref);
    const row = await db
      .selectFrom('version_scans')
      .selectAll()
      .where('version_id', '=', r.version.id)
      .executeTakeFirst();
    if (!row) return null;
    const rows = await db
      .selectFrom('version_scan_files')
      .select(['path', 'sha256', 'report'])
      .where('version_id', '=', r.version.id)
      .orderBy('path')
      .execute();
    const fileScans = rows.map((x) => ({
      path: x.path,
      sha256: x.sha256,
      ...(JSON.parse(x.report) as FileScanReport),
    }));
    return {
      model: r.model.name,
      version: r.version.version,
      verdict: row.verdict as ScanSummary['verdict'],
      files: row.files,
      dangerous: fileScans.filter((f) => f.verdict === 'dangerous').map((f) => f.path),
      scanner: row.scanner,
      scannedAt: row.scanned_at,
      fileScans,
    };
  }

  private async reusable(sha256: string): Promise<FileScanReport | undefined> {
    const row = await Q.reportOf.executeTakeFirst(this.ctx.database.db, { sha256 });
    return row ? (JSON.parse(row.report) as FileScanReport) : undefined;
  }
}
